// Package limit bounds what one client may hold of a Herald process: the
// connections it keeps open, how long it may take to send a request body,
// the bytes of request bodies in flight (process-wide and per tenant), and
// how fast it may guess credentials. Each bound answers at once (a closed
// connection, a 429 or a 503 with Retry-After) instead of letting the
// process run out of files or memory. Shared holds the rate limits that
// apply to all of Herald's processes together (an API key's, an
// endpoint's), in token buckets the store keeps.
package limit

import (
	"context"
	"net"
	"net/http"
	"net/netip"
)

type clientKey struct{}

// WithClient records the address of the client a request came from, so that
// calls made on its behalf in the same process (the portal calling the API
// through client.HandlerTransport) count against that client.
func WithClient(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// Client is the address a request came from: the one recorded in its
// context (WithClient, Clients), else its peer's address. The zero Addr
// means unknown.
func Client(r *http.Request) netip.Addr {
	if a, ok := r.Context().Value(clientKey{}).(netip.Addr); ok {
		return a
	}
	return peer(r.RemoteAddr)
}

// Clients records each request's peer address in its context (see Client).
func Clients(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(clientKey{}).(netip.Addr); !ok {
			r = r.WithContext(WithClient(r.Context(), peer(r.RemoteAddr)))
		}
		h.ServeHTTP(w, r)
	})
}

func peer(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// bucket is the key a client is counted under: its IPv4 address, or the
// /64 of its IPv6 address (one host usually holds a whole /64, so counting
// single IPv6 addresses would let it take 2^64 turns).
func bucket(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}
