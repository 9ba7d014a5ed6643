package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/store"
)

func (db *DB) seal(v string) (string, error) {
	if db.sealer == nil {
		return v, nil
	}
	return db.sealer.Seal(v)
}

func (db *DB) open(v string) (string, error) {
	if db.sealer == nil {
		return v, nil
	}
	return db.sealer.Open(v)
}

// keyCheckSetting holds a value sealed under the master key, so that a
// start with the wrong key fails at once instead of at the first delivery.
const keyCheckSetting = "master_key_check"

const keyCheckValue = "herald master key check"

// CheckSealer proves the sealer's key is the one the database was sealed
// with, recording it on first use.
func (db *DB) CheckSealer(ctx context.Context) error {
	var stored string
	err := db.read.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE key = ?`), keyCheckSetting).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		sealed, err := db.seal(keyCheckValue)
		if err != nil {
			return err
		}
		return db.wrap("record master key check", db.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`),
				keyCheckSetting, []byte(sealed))
			return err
		}))
	}
	if err != nil {
		return db.wrap("read master key check", err)
	}
	if v, err := db.open(stored); err != nil || v != keyCheckValue {
		return fmt.Errorf("the master key is not the one this database's secrets were encrypted with (set HERALD_MASTER_KEY or --master-key-file to that key): %v", err)
	}
	return nil
}

// Reseal re-encrypts every endpoint secret with next, in one transaction,
// reading them with the current sealer. It returns how many endpoints
// were rewritten.
func (db *DB) Reseal(ctx context.Context, next store.Sealer) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id, secret, previous_secret, credentials FROM endpoints`)
		if err != nil {
			return err
		}
		type row struct{ id, secret, previous, creds string }
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.secret, &r.previous, &r.creds); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, r := range all {
			out := make([]any, 0, 4)
			for _, v := range []string{r.secret, r.previous, r.creds} {
				plain, err := db.open(v)
				if err != nil {
					return fmt.Errorf("endpoint %s: %w", r.id, err)
				}
				sealed, err := next.Seal(plain)
				if err != nil {
					return err
				}
				out = append(out, sealed)
			}
			out = append(out, r.id)
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE endpoints SET secret = ?, previous_secret = ?, credentials = ? WHERE id = ?`), out...); err != nil {
				return err
			}
			n++
		}
		check, err := next.Seal(keyCheckValue)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`), keyCheckSetting, []byte(check))
		return err
	})
	if err != nil {
		return 0, db.wrap("reseal secrets", err)
	}
	db.sealer = next
	return n, nil
}
