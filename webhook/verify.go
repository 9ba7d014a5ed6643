package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxEd25519Entries bounds how many v1a entries of one request are checked.
// An ed25519 verification costs tens of microseconds, and a header full of
// bogus entries should not cost more than a handful; senders use one entry
// per active key, so this is far above any real rotation.
const maxEd25519Entries = 16

// Verifier checks that requests were signed by Herald with one of a set of
// secrets (several during a rotation): "whsec_" HMAC secrets and/or "whpk_"
// ed25519 public keys. Build one with [NewVerifier] and share it; it is never
// modified after construction and is safe for concurrent use.
type Verifier struct {
	signers   []*Signer // one per HMAC secret
	publicKey []ed25519.PublicKey
	tolerance time.Duration
}

// NewVerifier returns a Verifier accepting signatures made with any of the
// given secrets. Each is an HMAC secret ("whsec_…", or the bare base64 key)
// or an ed25519 public key ("whpk_…"). Pass more than one while rotating
// secrets so that requests signed with either the old or the new one verify.
// It fails with [ErrInvalidSecret] if no secret is given or one is malformed.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	v := &Verifier{tolerance: DefaultTolerance}
	for i, s := range secrets {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, PublicKeyPrefix):
			pub, err := ParsePublicKey(s)
			if err != nil {
				return nil, fmt.Errorf("secret %d: %w", i, err)
			}
			v.publicKey = append(v.publicKey, pub)
		case strings.HasPrefix(s, PrivateKeyPrefix):
			return nil, fmt.Errorf("%w: secret %d is a %s private key; give receivers the matching %s public key", ErrInvalidSecret, i, PrivateKeyPrefix, PublicKeyPrefix)
		default:
			signer, err := NewSigner(s)
			if err != nil {
				return nil, fmt.Errorf("secret %d: %w", i, err)
			}
			v.signers = append(v.signers, signer)
		}
	}
	return v, nil
}

// WithTolerance returns a copy of v that accepts timestamps up to d away from
// the current time in either direction, instead of [DefaultTolerance]. Raise
// it only for receivers with unreliable clocks: a larger window lets captured
// requests be replayed for longer. A d of zero or less means
// DefaultTolerance. v itself is not changed.
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	c := *v
	if d <= 0 {
		d = DefaultTolerance
	}
	c.tolerance = d
	return &c
}

// Verify reports whether body and the webhook headers in h form a request
// signed with one of v's secrets within the tolerance of the current time.
// It returns nil if so, and otherwise an error wrapping one of
// [ErrMissingHeaders], [ErrInvalidTimestamp], [ErrTimestampTooOld],
// [ErrTimestampTooNew] or [ErrNoMatchingSignature]. body must be the raw
// request body, exactly as received.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyAt(h, body, time.Now())
}

// VerifyAt is [Verifier.Verify] with the current time given as now, for
// tests and for checking stored requests.
func (v *Verifier) VerifyAt(h http.Header, body []byte, now time.Time) error {
	id, ts, sig, err := v.checkHeaders(h, now)
	if err != nil {
		return err
	}
	return v.checkSignature(id, ts, sig, body)
}

// checkHeaders validates everything but the signature, which needs the body;
// ParseRequest calls it before reading the body.
func (v *Verifier) checkHeaders(h http.Header, now time.Time) (id string, ts int64, sig string, err error) {
	id = headerValue(h, HeaderID)
	tsText := headerValue(h, HeaderTimestamp)
	sig = signatureHeader(h)
	var missing []string
	for _, f := range [...]struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, tsText}, {HeaderSignature, sig}} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return "", 0, "", fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	ts, perr := strconv.ParseInt(strings.TrimSpace(tsText), 10, 64)
	if perr != nil {
		return "", 0, "", fmt.Errorf("%w: %q is not unix seconds", ErrInvalidTimestamp, tsText)
	}
	tol := v.tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	// time.Time.Sub saturates at the extremes of time.Duration; compare
	// without negating age, since the most negative Duration has no positive
	// counterpart.
	switch age := now.Sub(time.Unix(ts, 0)); {
	case age > tol:
		return "", 0, "", fmt.Errorf("%w: signed %s ago, tolerance is %s", ErrTimestampTooOld, age.Truncate(time.Second), tol)
	case age < -tol:
		return "", 0, "", fmt.Errorf("%w: signed %s in the future, tolerance is %s", ErrTimestampTooNew, time.Unix(ts, 0).Sub(now).Truncate(time.Second), tol)
	}
	return id, ts, sig, nil
}

// checkSignature succeeds if any entry of the signature header matches any of
// v's keys. Entries of versions other than v1 and v1a are ignored, as the
// specification requires, so that senders can add new schemes.
func (v *Verifier) checkSignature(id string, ts int64, sig string, body []byte) error {
	const hmacEntryLen = 44    // base64 of a 32-byte HMAC-SHA256
	const ed25519EntryLen = 88 // base64 of a 64-byte ed25519 signature

	var (
		expected [][hmacEntryLen]byte // base64 HMAC per key, computed on first use
		msg      *[]byte              // signed content for ed25519, built on first use
		edTried  int
		edSig    [ed25519EntryLen]byte // room for DecodedLen(88) = 66 bytes
	)
	defer func() {
		if msg != nil {
			putMessage(msg)
		}
	}()

	rest := []byte(sig)
	for len(rest) > 0 {
		var entry []byte
		entry, rest, _ = bytes.Cut(rest, []byte{' '})
		version, value, ok := bytes.Cut(bytes.TrimSpace(entry), []byte{','})
		if !ok {
			continue
		}
		switch string(version) {
		case VersionHMAC:
			if len(v.signers) == 0 || len(value) != hmacEntryLen {
				continue
			}
			if expected == nil {
				expected = make([][hmacEntryLen]byte, len(v.signers))
				for i, s := range v.signers {
					s.appendMAC(expected[i][:0], id, ts, body)
				}
			}
			for i := range expected {
				if hmac.Equal(value, expected[i][:]) {
					return nil
				}
			}
		case VersionEd25519:
			if len(v.publicKey) == 0 || len(value) != ed25519EntryLen || edTried >= maxEd25519Entries {
				continue
			}
			edTried++
			n, err := b64.Decode(edSig[:], value)
			if err != nil || n != ed25519.SignatureSize {
				continue
			}
			if msg == nil {
				msg = getMessage(id, ts, body)
			}
			for _, pub := range v.publicKey {
				if ed25519.Verify(pub, *msg, edSig[:n]) {
					return nil
				}
			}
		}
	}
	return ErrNoMatchingSignature
}

// headerValue reads a header by its canonical name, falling back to the exact
// lower-case key for headers built as a literal map rather than with Set.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// signatureHeader joins all webhook-signature values, in case a proxy split
// the space-separated list over several header lines.
func signatureHeader(h http.Header) string {
	vs := h.Values(HeaderSignature)
	if len(vs) == 0 {
		vs = h[HeaderSignature]
	}
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs, " ")
}

// String describes v without revealing its secrets, so a Verifier can be
// logged safely.
func (v *Verifier) String() string {
	tol := v.tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	return fmt.Sprintf("webhook.Verifier{secrets: %d, public keys: %d, tolerance: %s}", len(v.signers), len(v.publicKey), tol)
}

// GoString is [Verifier.String], so that %#v does not print secrets either.
func (v *Verifier) GoString() string { return v.String() }
