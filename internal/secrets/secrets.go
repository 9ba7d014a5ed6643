// Package secrets encrypts what Herald keeps that would hurt if read:
// signing secrets, receivers' credentials, client keys. AES-256-GCM under
// a master key that lives outside the database.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key's length: AES-256.
const KeySize = 32

// prefix marks a sealed value; the key id after it says which key sealed it.
const prefix = "enc:v1:"

// ErrWrongKey means a value was sealed under a key Herald was not given.
var ErrWrongKey = errors.New("sealed with another master key")

// Box seals with its first key and opens with any of its keys, so a
// rotation can read the old and write the new.
type Box struct {
	keys []key
}

type key struct {
	id   string
	aead cipher.AEAD
}

// NewBox makes a box; the first key seals.
func NewBox(masters ...[]byte) (*Box, error) {
	if len(masters) == 0 {
		return nil, errors.New("secrets: no master key")
	}
	b := &Box{}
	for _, m := range masters {
		if len(m) != KeySize {
			return nil, fmt.Errorf("secrets: a master key is %d bytes, not %d", KeySize, len(m))
		}
		block, err := aes.NewCipher(m)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		sum := sha256.Sum256(m)
		b.keys = append(b.keys, key{id: hex.EncodeToString(sum[:4]), aead: aead})
	}
	return b, nil
}

// Seal encrypts plaintext. The empty string stays empty: there is nothing
// to hide, and "no secret" must stay recognisable.
func (b *Box) Seal(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	k := b.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	sealed := k.aead.Seal(nonce, nonce, []byte(plaintext), []byte(k.id))
	return prefix + k.id + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// Open decrypts a sealed value. A value without the prefix was stored
// before encryption was turned on and is returned as it is; the next write
// (or herald rotate-master-key) seals it.
func (b *Box) Open(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return stored, nil
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("secrets: malformed sealed value")
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil {
		return "", fmt.Errorf("secrets: malformed sealed value: %w", err)
	}
	for _, k := range b.keys {
		if k.id != id {
			continue
		}
		n := k.aead.NonceSize()
		if len(raw) < n {
			return "", errors.New("secrets: malformed sealed value")
		}
		plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(k.id))
		if err != nil {
			return "", fmt.Errorf("secrets: %w", err)
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("secrets: key %s: %w", id, ErrWrongKey)
}

// IsSealed reports whether a stored value is sealed.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, prefix) }

// NewKey returns a fresh random master key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// EncodeKey writes a key as text (base64), for HERALD_MASTER_KEY or a file.
func EncodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// DecodeKey reads a key written by EncodeKey.
func DecodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("a master key is %d bytes of base64 (openssl rand -base64 32)", KeySize)
	}
	return k, nil
}

// LoadOrCreateKeyFile reads the key file, or creates it with a new key
// and mode 0600 when it does not exist. It reports whether it created it.
func LoadOrCreateKeyFile(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := DecodeKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("master key file %s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
	k, err := NewKey()
	if err != nil {
		return nil, false, err
	}
	if err := WriteKeyFile(path, k); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// WriteKeyFile writes a key file atomically with mode 0600.
func WriteKeyFile(path string, k []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".herald-key-*")
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if _, err := tmp.WriteString(EncodeKey(k) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
