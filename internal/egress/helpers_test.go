package egress

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func itoa(n int) string { return strconv.Itoa(n) }

func nullLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// fakeDNS is a minimal UDP DNS server on loopback answering A and AAAA
// queries from a table; unknown names get NXDOMAIN.
type fakeDNS struct {
	addr string
	mu   sync.Mutex
	recs map[string][]netip.Addr // fully qualified, lower-case
}

func startFakeDNS(t *testing.T, recs map[string][]netip.Addr) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDNS{addr: pc.LocalAddr().String(), recs: map[string][]netip.Addr{}}
	for k, v := range recs {
		d.recs[strings.ToLower(k)] = v
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := d.answer(buf[:n]); err == nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return d
}

func (d *fakeDNS) set(name string, addrs ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs[strings.ToLower(name)] = addrs
}

// resolver returns a pure-Go resolver that sends every query to d.
func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.addr)
	}}
}

const (
	typeA    = 1
	typeAAAA = 28
)

func (d *fakeDNS) answer(q []byte) ([]byte, error) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil, errors.New("want exactly one question")
	}
	// Parse the question name.
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil, errors.New("short question")
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l&0xC0 != 0 || i+l > len(q) {
			return nil, errors.New("bad label")
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil, errors.New("short question")
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	qEnd := i + 4
	name := strings.ToLower(strings.Join(labels, ".") + ".")

	d.mu.Lock()
	addrs, known := d.recs[name]
	d.mu.Unlock()

	var answers [][]byte
	for _, a := range addrs {
		var rdata []byte
		switch {
		case qtype == typeA && a.Is4():
			b := a.As4()
			rdata = b[:]
		case qtype == typeAAAA && a.Is6():
			b := a.As16()
			rdata = b[:]
		default:
			continue
		}
		rr := []byte{0xC0, 12} // pointer to the question name
		rr = binary.BigEndian.AppendUint16(rr, qtype)
		rr = binary.BigEndian.AppendUint16(rr, 1) // IN
		rr = binary.BigEndian.AppendUint32(rr, 0) // TTL
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(rdata)))
		rr = append(rr, rdata...)
		answers = append(answers, rr)
	}

	resp := make([]byte, 0, 512)
	resp = append(resp, q[0], q[1]) // ID
	flags := uint16(0x8180)         // QR, RD, RA
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = append(resp, q[12:qEnd]...)
	for _, rr := range answers {
		resp = append(resp, rr...)
	}
	return resp, nil
}
