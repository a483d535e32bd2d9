package sqlite

import "context"

// ExecForTest runs SQL on the writer, for tests in package sqlite_test that must
// put the database in a state the API cannot (an older schema).
func ExecForTest(ctx context.Context, s *Store, query string) error {
	_, err := s.w.ExecContext(ctx, query)
	return err
}
