package dispatch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// macPool makes HMAC-SHA256s with one key, reusing its hash states: a new
// crypto/hmac state for every delivery costs more than the MAC of a short
// body. hmac-sha256-hex headers and Smile ID's body signature use it (the
// Standard Webhooks signature has its own in the webhook package).
type macPool struct{ pool sync.Pool }

func newMACPool(key []byte) *macPool {
	m := &macPool{}
	m.pool.New = func() any { return hmac.New(sha256.New, key) }
	return m
}

// appendMAC appends HMAC-SHA256(key, msg) to dst, as encode writes it
// (hex.AppendEncode, base64.StdEncoding.AppendEncode).
func (m *macPool) appendMAC(dst, msg []byte, encode func(dst, src []byte) []byte) []byte {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	var sum [sha256.Size]byte
	dst = encode(dst, h.Sum(sum[:0]))
	m.pool.Put(h)
	return dst
}

// appendHex appends the hex HMAC-SHA256 of body to dst.
func (m *macPool) appendHex(dst, body []byte) []byte { return m.appendMAC(dst, body, hex.AppendEncode) }
