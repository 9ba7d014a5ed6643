package egress

import (
	"net/netip"
)

// special is a range that is not publicly routable unicast, with the phrase
// used in error messages ("host "10.0.0.5" is <what>").
type special struct {
	prefix netip.Prefix
	what   string
}

func mustSpecial(cidr, what string) special {
	return special{prefix: netip.MustParsePrefix(cidr), what: what}
}

// v4Special lists IPv4 ranges that are never a valid webhook destination.
// Sources: RFC 6890 / IANA IPv4 Special-Purpose Address Registry.
var v4Special = []special{
	mustSpecial("0.0.0.0/8", `a "this network" address (0.0.0.0/8)`),
	mustSpecial("10.0.0.0/8", "a private address"),
	mustSpecial("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
	mustSpecial("127.0.0.0/8", "a loopback address"),
	mustSpecial("169.254.0.0/16", "a link-local address (this range holds cloud metadata endpoints)"),
	mustSpecial("172.16.0.0/12", "a private address"),
	mustSpecial("192.0.0.0/24", "an IETF protocol-assignment address"),
	mustSpecial("192.0.2.0/24", "a documentation address"),
	mustSpecial("192.88.99.0/24", "a 6to4 relay anycast address"),
	mustSpecial("192.168.0.0/16", "a private address"),
	mustSpecial("198.18.0.0/15", "a benchmarking address"),
	mustSpecial("198.51.100.0/24", "a documentation address"),
	mustSpecial("203.0.113.0/24", "a documentation address"),
	mustSpecial("224.0.0.0/4", "a multicast address"),
	mustSpecial("255.255.255.255/32", "the broadcast address"),
	mustSpecial("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
}

var (
	v6GlobalUnicast = netip.MustParsePrefix("2000::/3")
	v6NAT64         = netip.MustParsePrefix("64:ff9b::/96")
	v6SixToFour     = netip.MustParsePrefix("2002::/16")
	v6IPv4Compat    = netip.MustParsePrefix("::/96")
)

// v6Special lists IPv6 ranges that are never a valid webhook destination.
// Anything outside 2000::/3 (other than NAT64 64:ff9b::/96, handled
// separately) is refused as well.
var v6Special = []special{
	mustSpecial("fc00::/7", "a unique-local (private) address"),
	mustSpecial("fe80::/10", "a link-local address"),
	mustSpecial("fec0::/10", "a site-local address"),
	mustSpecial("ff00::/8", "a multicast address"),
	mustSpecial("100::/64", "a discard-only address"),
	mustSpecial("2001:db8::/32", "a documentation address"),
	mustSpecial("3fff::/20", "a documentation address"),
	mustSpecial("2001:2::/48", "a benchmarking address"),
	// IETF protocol assignments, including Teredo (2001::/32), which
	// embeds IPv4 addresses in obfuscated form.
	mustSpecial("2001::/23", "an IETF protocol-assignment address (e.g. Teredo)"),
}

// IsPublic reports whether ip is a public unicast address, i.e. a
// destination Herald may connect to when private destinations are not
// allowed. It returns false for loopback, RFC 1918 private, link-local
// (including 169.254.169.254), CGNAT 100.64.0.0/10, multicast, unspecified,
// broadcast, IPv6 unique-local fc00::/7, documentation and benchmarking
// ranges, 0.0.0.0/8, 240.0.0.0/4, anything outside IPv6 global unicast
// 2000::/3, and for IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses that embed a non-public IPv4 address. IPv4-compatible addresses
// (::a.b.c.d, deprecated) are always refused. Zones are ignored.
func IsPublic(ip netip.Addr) bool {
	return nonPublicReason(ip) == ""
}

// nonPublicReason returns "" when ip is public and otherwise a phrase such as
// "a private address" describing why it is not.
func nonPublicReason(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not a valid IP address"
	}
	// Prefix.Contains is false for zoned addresses; the zone does not change
	// where the packet goes, so drop it.
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		for _, s := range v4Special {
			if s.prefix.Contains(ip) {
				return s.what
			}
		}
		return ""
	}

	switch {
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case v6NAT64.Contains(ip):
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if r := nonPublicReason(v4); r != "" {
			return "a NAT64 address embedding " + r
		}
		return ""
	case v6IPv4Compat.Contains(ip):
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if r := nonPublicReason(v4); r != "" {
			return "an IPv4-compatible address embedding " + r
		}
		return "a deprecated IPv4-compatible address"
	case v6SixToFour.Contains(ip):
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		if r := nonPublicReason(v4); r != "" {
			return "a 6to4 address embedding " + r
		}
		return ""
	}
	for _, s := range v6Special {
		if s.prefix.Contains(ip) {
			return s.what
		}
	}
	if !v6GlobalUnicast.Contains(ip) {
		return "a reserved IPv6 address (outside global unicast 2000::/3)"
	}
	return ""
}
