package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald/internal/secrets"
)

// masterKeyFlags say where the key that encrypts secrets at rest lives.
type masterKeyFlags struct {
	MasterKey     string `env:"HERALD_MASTER_KEY" help:"The master key (base64 of 32 bytes: openssl rand -base64 32) that encrypts signing secrets and credentials at rest. Every process of a cluster needs the same."`
	MasterKeyFile string `env:"HERALD_MASTER_KEY_FILE" help:"A file holding the master key. With SQLite it defaults to herald.key beside the database and is created (mode 0600) on first start."`
}

// keyFile is where the master key file is, or "" when there is none.
func (f masterKeyFlags) keyFile(db databaseFlag) string {
	if f.MasterKeyFile != "" {
		return f.MasterKeyFile
	}
	if isPostgres(db.Database) {
		return ""
	}
	return filepath.Join(filepath.Dir(db.Database), "herald.key")
}

// load reads the master key: the flag, else the key file (created for
// SQLite on first start). PostgreSQL serves several processes, which must
// share one key, so it is never made up on the spot.
func (f masterKeyFlags) load(db databaseFlag) ([]byte, error) {
	if f.MasterKey != "" {
		return secrets.DecodeKey(f.MasterKey)
	}
	path := f.keyFile(db)
	if path == "" {
		return nil, errors.New("PostgreSQL needs a master key shared by every process: set HERALD_MASTER_KEY (openssl rand -base64 32) or --master-key-file")
	}
	k, created, err := secrets.LoadOrCreateKeyFile(path)
	if created {
		fmt.Fprintf(os.Stderr, "Created the master key file %s (mode 0600). Back it up: without it the stored secrets cannot be read.\n", path)
	}
	return k, err
}

type rotateMasterKeyCmd struct {
	databaseFlag
	masterKeyFlags
	NewMasterKey string `env:"HERALD_NEW_MASTER_KEY" help:"The key to move to (base64 of 32 bytes); generated when absent."`
}

// Run re-encrypts every secret under a new master key. Stop Herald's
// processes first: they hold the old key.
func (c *rotateMasterKeyCmd) Run() error {
	ctx := context.Background()
	st, err := openStore(ctx, c.databaseFlag, c.masterKeyFlags)
	if err != nil {
		return err
	}
	defer st.Close()
	next, err := secrets.NewKey()
	if c.NewMasterKey != "" {
		next, err = secrets.DecodeKey(c.NewMasterKey)
	}
	if err != nil {
		return err
	}
	box, err := secrets.NewBox(next)
	if err != nil {
		return err
	}
	// With a key file, the new key is written beside the old one first, so
	// a crash in between leaves both keys on disk.
	path := ""
	if c.MasterKey == "" {
		path = c.keyFile(c.databaseFlag)
		if err := secrets.WriteKeyFile(path+".new", next); err != nil {
			return err
		}
	}
	n, err := st.(sealing).Reseal(ctx, box)
	if err != nil {
		return err
	}
	if path != "" {
		if err := os.Rename(path+".new", path); err != nil {
			return fmt.Errorf("the secrets are re-encrypted under %s.new, but moving it to %s failed: %w", path, path, err)
		}
		fmt.Printf("re-encrypted the secrets of %d endpoints; the new master key is in %s\n", n, path)
		return nil
	}
	fmt.Printf("re-encrypted the secrets of %d endpoints. Start Herald with the new master key:\nHERALD_MASTER_KEY=%s\n", n, secrets.EncodeKey(next))
	return nil
}
