package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// canonicalHost is host as a client would connect to it, so that a URL is
// judged when it is saved exactly as when it is used:
//
//   - a name that is not ASCII is mapped as net/http maps it before it
//     resolves or dials (IDNA UTS #46 lookup: fullwidth digits and letters,
//     the ideographic full stop 。 and its kin, case), then punycoded;
//   - trailing dots are dropped ("localhost." is "localhost");
//   - the numeric IPv4 forms resolvers and browsers accept (2130706433,
//     0x7f.1, 0177.0.0.1, 127.1) are read as the address they name;
//   - "localhost" and names under .localhost (RFC 6761) are the loopback
//     address, whatever a resolver would say.
//
// ip is valid when the host names an address. An error wraps
// ErrInvalidURL.
func canonicalHost(host string) (name string, ip netip.Addr, err error) {
	if strings.Contains(host, ":") {
		// Only an IPv6 literal has a colon in its host.
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid IPv6 address", ErrInvalidURL, host)
		}
		return host, ip, nil
	}
	name = strings.ToLower(host)
	if !isASCII(name) {
		if name, err = idna.Lookup.ToASCII(host); err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid international domain name: %v", ErrInvalidURL, host, err)
		}
	}
	name = strings.TrimRight(name, ".")
	if name == "" {
		return "", netip.Addr{}, fmt.Errorf("%w: host %q has no name", ErrInvalidURL, host)
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		return name, ip, nil
	}
	if looksNumeric(name) {
		ip, err := parseIPv4(name)
		if err != nil {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid hostname or IPv4 address; write an IPv4 address as four decimal numbers, e.g. 192.0.2.10", ErrInvalidURL, host)
		}
		return name, ip, nil
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return name, netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	return name, netip.Addr{}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var errNotIPv4 = errors.New("not an IPv4 address")

// parseIPv4 reads an IPv4 address as the WHATWG URL standard (and
// inet_aton) do: one to four parts, each decimal, 0x-hex or 0-octal, the
// last filling the bytes the others leave.
func parseIPv4(s string) (netip.Addr, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, errNotIPv4
	}
	var v uint64
	for i, p := range parts {
		n, err := ipv4Number(p)
		if err != nil {
			return netip.Addr{}, err
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, errNotIPv4
			}
			v = v<<8 | n
			continue
		}
		rest := uint(5 - len(parts))
		if n >= 1<<(8*rest) {
			return netip.Addr{}, errNotIPv4
		}
		v = v<<(8*rest) | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

func ipv4Number(p string) (uint64, error) {
	base := 10
	switch {
	case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
		p, base = p[2:], 16
		if p == "" {
			return 0, nil
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	if p == "" || len(p) > 32 {
		return 0, errNotIPv4
	}
	n, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		return 0, errNotIPv4
	}
	return n, nil
}
