package postgres

import (
	"context"
	"crypto/rand"

	"github.com/inthreat/taxii-server/internal/store"
)

// CursorSecret implements store.Settings. The first process to ask creates it;
// the insert is a no-op for every later one, so all replicas share one secret.
func (s *Store) CursorSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := s.lookups.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('cursor_secret', $1) ON CONFLICT DO NOTHING`, fresh); err != nil {
		return nil, interpretError(err)
	}
	var secret []byte
	err := s.lookups.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'cursor_secret'`).Scan(&secret)
	return secret, interpretError(err)
}

var _ store.Settings = (*Store)(nil)
