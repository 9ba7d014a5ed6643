package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names of the Standard Webhooks scheme. Herald sets all three on
// every callback; [Verifier] reads them case-insensitively.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Prefixes that mark the kind of a secret or key in its text form.
const (
	SecretPrefix     = "whsec_" // HMAC secret, shared by sender and receiver
	PublicKeyPrefix  = "whpk_"  // ed25519 public key, given to receivers
	PrivateKeyPrefix = "whsk_"  // ed25519 private key, kept by the sender
)

// Signature versions, the part of a signature entry before the comma.
const (
	VersionHMAC    = "v1"  // HMAC-SHA256 with a shared secret
	VersionEd25519 = "v1a" // ed25519 with a key pair
)

// DefaultTolerance is how far a request's timestamp may be from the
// receiver's clock, in either direction, before [Verifier] rejects it. It
// bounds how long a captured request can be replayed while allowing for
// ordinary clock skew and network delay.
const DefaultTolerance = 5 * time.Minute

// SecretSize is the number of random bytes in a secret made by [NewSecret].
const SecretSize = 24

// Errors returned by this package. They are wrapped with details, so test
// for them with errors.Is.
var (
	// ErrNoMatchingSignature means no signature in the request matches any
	// of the verifier's secrets or keys: the request was not signed by the
	// sender, was altered, or the receiver has the wrong secret.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	// ErrTimestampTooOld means the request was signed longer ago than the
	// tolerance allows; it may be a replay, or the receiver's clock is ahead.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew means the request claims to be signed further in
	// the future than the tolerance allows; the sender's clock is ahead.
	ErrTimestampTooNew = errors.New("webhook: timestamp too new")
	// ErrMissingHeaders means one of webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty: the request is not a webhook.
	ErrMissingHeaders = errors.New("webhook: missing webhook headers")
	// ErrInvalidTimestamp means the webhook-timestamp header is not an
	// integer number of unix seconds.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp header")
	// ErrInvalidSecret means a secret or key string could not be decoded.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrBodyTooLarge means a request body exceeded [MaxBodySize].
	ErrBodyTooLarge = errors.New("webhook: body too large")
)

var b64 = base64.StdEncoding

// NewSecret returns a fresh HMAC secret: "whsec_" followed by the standard
// base64 encoding of [SecretSize] bytes from crypto/rand. Give the same string
// to the sender and to the receiver's [NewVerifier].
func NewSecret() (string, error) {
	key := make([]byte, SecretSize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: generate secret: %w", err)
	}
	return SecretPrefix + b64.EncodeToString(key), nil
}

// ParseSecret decodes a secret, with or without its "whsec_" prefix, into the
// key bytes that [AppendSignature] and [NewSignerKey] take. Surrounding white
// space is ignored, so secrets read from files or environment variables work
// as they are. It fails with [ErrInvalidSecret] if the rest is not standard
// base64 or is empty.
func ParseSecret(secret string) ([]byte, error) {
	s := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty secret", ErrInvalidSecret)
	}
	key, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not standard base64 (want %s<base64>): %v", ErrInvalidSecret, SecretPrefix, err)
	}
	return key, nil
}

// AppendSignature appends one HMAC signature entry, "v1,<base64>", to dst
// and returns the extended slice. The signature covers
// id + "." + timestamp + "." + body with key, as decoded by [ParseSecret],
// and timestamp is in unix seconds and must be the value sent in the
// webhook-timestamp header. To sign with several secrets during a rotation,
// separate the entries with a single space:
//
//	sig = webhook.AppendSignature(sig[:0], newKey, id, ts, body)
//	sig = append(sig, ' ')
//	sig = webhook.AppendSignature(sig, oldKey, id, ts, body)
//
// It sets up a new crypto/hmac state for key on every call, which allocates.
// Senders on a hot path should keep a [Signer] per secret instead: it signs
// the same way without allocating.
func AppendSignature(dst, key []byte, id string, timestamp int64, body []byte) []byte {
	st := newMACState(key)
	return st.appendSignature(dst, id, timestamp, body)
}

// Sign returns the webhook-signature header value for one secret (with or
// without its "whsec_" prefix). It is the convenient form of
// [AppendSignature] for code that signs occasionally, such as tests and
// tools; the webhook-timestamp header must carry timestamp.Unix().
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return string(AppendSignature(nil, key, id, timestamp.Unix(), body)), nil
}

// Signer makes HMAC signature entries with one secret. It gives the same
// result as [AppendSignature] but reuses its crypto/hmac states, so signing
// into a buffer with enough capacity does not allocate. Create one per secret
// with [NewSigner] or [NewSignerKey] and share it: it is safe for concurrent
// use. The zero Signer is not usable, and a Signer must not be copied.
type Signer struct {
	key  []byte
	pool sync.Pool // of *macState for key
}

// NewSigner returns a Signer for secret, with or without its "whsec_"
// prefix. It fails with [ErrInvalidSecret] if the secret is malformed, as
// [ParseSecret] does.
func NewSigner(secret string) (*Signer, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	return NewSignerKey(key), nil
}

// NewSignerKey returns a Signer for key, as decoded by [ParseSecret]. The
// Signer keeps its own copy of key.
func NewSignerKey(key []byte) *Signer {
	s := &Signer{key: bytes.Clone(key)}
	s.pool.New = func() any { return newMACState(s.key) }
	return s
}

// AppendSignature appends one HMAC signature entry, "v1,<base64>", for s's
// secret to dst and returns the extended slice, exactly as the package-level
// [AppendSignature] does. It does not allocate once dst has room for the
// entry (47 bytes) and s has been used a few times, so a sender can sign
// every delivery into a reused buffer.
func (s *Signer) AppendSignature(dst []byte, id string, timestamp int64, body []byte) []byte {
	st := s.pool.Get().(*macState)
	dst = st.appendSignature(dst, id, timestamp, body)
	s.pool.Put(st)
	return dst
}

// appendMAC appends the standard base64 encoding of the HMAC alone, without
// the "v1," prefix, for [Verifier].
func (s *Signer) appendMAC(dst []byte, id string, timestamp int64, body []byte) []byte {
	st := s.pool.Get().(*macState)
	dst = st.appendMAC(dst, id, timestamp, body)
	s.pool.Put(st)
	return dst
}

// String describes s without revealing its secret, so a Signer can be
// logged safely.
func (s *Signer) String() string { return "webhook.Signer{secret: redacted}" }

// GoString is [Signer.String], so that %#v does not print the secret either.
func (s *Signer) GoString() string { return s.String() }

// macState is one crypto/hmac state with the scratch space for a signature.
// Everything written or summed through the hash.Hash interface escapes to
// the heap, so the scratch lives here rather than on the stack: a pooled
// macState is what lets [Signer.AppendSignature] run without allocating.
type macState struct {
	mac     hash.Hash // hmac.New(sha256.New, key)
	sum     [sha256.Size]byte
	scratch []byte // id + "." + timestamp + "."
}

func newMACState(key []byte) *macState {
	return &macState{mac: hmac.New(sha256.New, key)}
}

// maxPooledScratch bounds the scratch buffer kept in a pooled macState, so a
// single huge message id does not pin memory.
const maxPooledScratch = 4 << 10

func (st *macState) appendSignature(dst []byte, id string, timestamp int64, body []byte) []byte {
	dst = append(dst, VersionHMAC...)
	dst = append(dst, ',')
	return st.appendMAC(dst, id, timestamp, body)
}

// appendMAC appends the standard base64 encoding of
// HMAC-SHA256(key, id "." timestamp "." body) to dst.
func (st *macState) appendMAC(dst []byte, id string, timestamp int64, body []byte) []byte {
	st.mac.Reset()
	if st.scratch == nil {
		st.scratch = make([]byte, 0, 128)
	}
	st.scratch = append(st.scratch[:0], id...)
	st.scratch = append(st.scratch, '.')
	st.scratch = strconv.AppendInt(st.scratch, timestamp, 10)
	st.scratch = append(st.scratch, '.')
	st.mac.Write(st.scratch)
	st.mac.Write(body)
	dst = b64.AppendEncode(dst, st.mac.Sum(st.sum[:0]))

	// Do not leave message ids or MACs in pooled memory.
	clear(st.sum[:])
	if cap(st.scratch) > maxPooledScratch {
		st.scratch = nil
	} else {
		clear(st.scratch)
	}
	return dst
}

// NewKeyPair returns a fresh ed25519 key pair for asymmetric signing: the
// public key as "whpk_" + base64 of its 32 bytes, for receivers, and the
// private key as "whsk_" + base64 of its 64 bytes, for the sender only.
// Asymmetric signing lets receivers verify without holding a secret that
// could also be used to forge requests.
func NewKeyPair() (public, private string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("webhook: generate key pair: %w", err)
	}
	return PublicKeyPrefix + b64.EncodeToString(pub), PrivateKeyPrefix + b64.EncodeToString(priv), nil
}

// ParsePublicKey decodes an ed25519 public key, with or without its "whpk_"
// prefix. It fails with [ErrInvalidSecret] unless the rest is standard base64
// of exactly 32 bytes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := parseKey(s, PublicKeyPrefix, ed25519.PublicKeySize, "public key")
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// ParsePrivateKey decodes an ed25519 private key, with or without its
// "whsk_" prefix. It fails with [ErrInvalidSecret] unless the rest is
// standard base64 of exactly 64 bytes (seed followed by public key) whose
// two halves belong together.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	raw, err := parseKey(s, PrivateKeyPrefix, ed25519.PrivateKeySize, "private key")
	if err != nil {
		return nil, err
	}
	priv := ed25519.PrivateKey(raw)
	if !ed25519.NewKeyFromSeed(priv.Seed()).Equal(priv) {
		return nil, fmt.Errorf("%w: private key's public half does not match its seed", ErrInvalidSecret)
	}
	return priv, nil
}

func parseKey(s, prefix string, size int, what string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), prefix)
	raw, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not standard base64 (want %s<base64>): %v", ErrInvalidSecret, what, prefix, err)
	}
	if len(raw) != size {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrInvalidSecret, what, len(raw), size)
	}
	return raw, nil
}

// AppendSignatureEd25519 appends one asymmetric signature entry,
// "v1a,<base64>", to dst and returns the extended slice. It signs the same
// content as [AppendSignature] (id + "." + timestamp + "." + body) with priv,
// which must be a valid key as returned by [ParsePrivateKey]; like
// ed25519.Sign, it panics if priv is not 64 bytes long.
func AppendSignatureEd25519(dst []byte, priv ed25519.PrivateKey, id string, timestamp int64, body []byte) []byte {
	msg := getMessage(id, timestamp, body)
	sig := ed25519.Sign(priv, *msg)
	putMessage(msg)
	dst = append(dst, VersionEd25519...)
	dst = append(dst, ',')
	return b64.AppendEncode(dst, sig)
}

// SignEd25519 returns the webhook-signature header value for one private key
// ("whsk_…"). It is the convenient form of [AppendSignatureEd25519].
func SignEd25519(privateKey, id string, timestamp time.Time, body []byte) (string, error) {
	priv, err := ParsePrivateKey(privateKey)
	if err != nil {
		return "", err
	}
	return string(AppendSignatureEd25519(nil, priv, id, timestamp.Unix(), body)), nil
}

// ed25519 needs the signed content in one slice; these buffers are reused
// unless a large body made them too big to keep.
var messagePool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledMessage = 64 << 10

func getMessage(id string, timestamp int64, body []byte) *[]byte {
	p := messagePool.Get().(*[]byte)
	b := append((*p)[:0], id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, timestamp, 10)
	b = append(b, '.')
	b = append(b, body...)
	*p = b
	return p
}

func putMessage(p *[]byte) {
	if cap(*p) > maxPooledMessage {
		return
	}
	clear(*p)
	*p = (*p)[:0]
	messagePool.Put(p)
}
