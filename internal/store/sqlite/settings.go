package sqlite

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	// The first process to get here wins; every later one reads its secret.
	insertSetting = `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`
	selectSetting = `SELECT value FROM settings WHERE name = ?`

	cursorSecretName = "cursor_secret"
	cursorSecretLen  = 32
)

// CursorSecret returns the paging cursor secret, creating a random one on first use.
func (s *Store) CursorSecret(ctx context.Context) ([]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var secret []byte
	if err := s.lookups.QueryRowContext(ctx, selectSetting, cursorSecretName).Scan(&secret); err == nil {
		return secret, nil
	} else if err := interpretError(err); !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	fresh := make([]byte, cursorSecretLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := s.w.ExecContext(ctx, insertSetting, cursorSecretName, fresh); err != nil {
		return nil, interpretError(err)
	}
	// Read on the writer: it has seen its own insert, or the one that beat it.
	if err := s.w.QueryRowContext(ctx, selectSetting, cursorSecretName).Scan(&secret); err != nil {
		return nil, interpretError(err)
	}
	return secret, nil
}
