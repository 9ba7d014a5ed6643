package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// offline is a resolver that answers nothing, so that fuzzing never asks
// the network: names then pass CheckURL (the dial-time guard is for them).
var offline = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("offline")
}}

// FuzzCheckURL holds CheckURL to how a client would connect: whatever URL
// it accepts, the address net/http would dial for its host (after the same
// IDNA mapping net/http applies, trailing dots dropped, and the numeric
// IPv4 forms a resolver reads) is public; and its errors are always
// ErrInvalidURL or ErrBlocked.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1/", "https://example.com/hook", "http://１２７.０.０.１/", "http://127。0。0。1/", "http://localhost./",
		"http://ｌｏｃａｌｈｏｓｔ/", "http://0x7f.1/", "http://2130706433/", "http://0177.0.0.1/", "http://[::ffff:127.0.0.1]/",
		"http://[::ffff:7f00:1]:80/", "http://[fe80::1%25eth0]/", "http://[64:ff9b::a00:1]/", "http://①②⑦.⓪.⓪.①/",
		"http://xn--ls8h.example/", "http://a.b.c.d.e/", "http://8.8.8.8./", "http://8.8.8.8../", "http://0/", "http://[::]/",
		"http://user:pw@example.com/", "ftp://example.com/", "http://example.com:99999/", "http://203.0.113.7:8080/x?y#z",
	} {
		f.Add(s)
	}
	c := New(Options{Resolver: offline})
	f.Fuzz(func(t *testing.T, raw string) {
		err := c.CheckURL(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) && !errors.Is(err, ErrBlocked) {
				t.Fatalf("CheckURL(%q) = %v: neither invalid nor blocked", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("CheckURL accepted %q, which url.Parse refuses: %v", raw, perr)
		}
		host := u.Hostname()
		if !isASCII(host) {
			a, err := idna.Lookup.ToASCII(host)
			if err != nil {
				return // net/http cannot dial it either
			}
			host = a
		}
		host = strings.TrimRight(host, ".")
		ip, err := netip.ParseAddr(host)
		if err != nil {
			if ip, err = parseIPv4(host); err != nil {
				return // a name: resolved and checked when dialled
			}
		}
		if !IsPublic(ip) {
			t.Fatalf("CheckURL accepted %q, whose host %q is the non-public %s", raw, u.Hostname(), ip)
		}
	})
}

// FuzzIsPublic holds the address classification to itself: an IPv4
// address and its IPv4-mapped IPv6 form, and an address with and without
// a zone, are classified alike; NAT64 and 6to4 addresses are public only
// when the IPv4 address they embed is.
func FuzzIsPublic(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "8.8.8.8", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::1", "2001:db8::1",
		"2606:4700::1111", "64:ff9b::808:808", "64:ff9b::a00:1", "2002:808:808::1", "2002:a00:1::1", "fe80::1", "::ffff:1.2.3.4"} {
		a := netip.MustParseAddr(s).As16()
		f.Add(a[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a16 [16]byte
		copy(a16[:], b)
		ip := netip.AddrFrom16(a16)
		if IsPublic(ip) != IsPublic(ip.WithZone("eth0")) {
			t.Fatalf("%s: the zone changes the class", ip)
		}
		if ip.Is4In6() && IsPublic(ip) != IsPublic(ip.Unmap()) {
			t.Fatalf("%s: mapped and plain differ", ip)
		}
		var v4 netip.Addr
		switch {
		case v6NAT64.Contains(ip):
			v4 = netip.AddrFrom4([4]byte(a16[12:16]))
		case v6SixToFour.Contains(ip):
			v4 = netip.AddrFrom4([4]byte(a16[2:6]))
		}
		if v4.IsValid() && IsPublic(ip) != IsPublic(v4) {
			t.Fatalf("%s embeds %s: classes differ", ip, v4)
		}
	})
}
