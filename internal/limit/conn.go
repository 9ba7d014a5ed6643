package limit

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Listen caps the connections open at once: perClient from one client (an
// IPv4 address or an IPv6 /64) and total in all; a bound <= 0 is no bound.
// A connection over a cap is answered at once with a 429 (the client's cap)
// or a 503 (the total) and closed, so it never holds a file for longer than
// that write; the server keeps accepting.
//
// One client holding connections open (slow headers, slow bodies, idle
// keep-alives) can then take at most perClient of the process's files,
// and the other clients keep theirs.
func Listen(ln net.Listener, perClient, total int) net.Listener {
	if perClient <= 0 && total <= 0 {
		return ln
	}
	return &listener{Listener: ln, perClient: perClient, total: total, open: map[netip.Addr]int{}}
}

type listener struct {
	net.Listener
	perClient, total int

	mu   sync.Mutex
	all  int
	open map[netip.Addr]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		k := bucket(peer(c.RemoteAddr().String()))
		l.mu.Lock()
		switch {
		case l.perClient > 0 && l.open[k] >= l.perClient:
			l.mu.Unlock()
			go refuse(c, "429 Too Many Requests", "this client has as many connections open as it may; close some or wait")
			continue
		case l.total > 0 && l.all >= l.total:
			l.mu.Unlock()
			go refuse(c, "503 Service Unavailable", "the server has as many connections open as it takes; try again shortly")
			continue
		}
		l.open[k]++
		l.all++
		l.mu.Unlock()
		return &conn{Conn: c, release: func() { l.release(k) }}, nil
	}
}

func (l *listener) release(k netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all--
	if l.open[k]--; l.open[k] <= 0 {
		delete(l.open, k)
	}
}

// Open is how many connections are open, in all and from client.
func Open(ln net.Listener, client netip.Addr) (all, ofClient int) {
	l, ok := ln.(*listener)
	if !ok {
		return 0, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all, l.open[bucket(client)]
}

// refuse answers a connection over a cap with a problem and closes it,
// spending at most a second on it.
func refuse(c net.Conn, status, detail string) {
	defer c.Close()
	body := `{"title":"` + status[4:] + `","status":` + status[:3] + `,"detail":"` + detail + `"}`
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte("HTTP/1.1 " + status + "\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
}

// conn gives its place back once, when closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// DefaultConnections are the connection caps that fit the process's limit
// on open files: half of the files for client connections in all (the
// rest is for the database, deliveries and logs), and a quarter of those,
// at most 512, for one client. With the limit unknown: 4096 and 512.
func DefaultConnections() (perClient, total int) {
	total = 4096
	if n := openFiles(); n > 0 {
		total = max(64, n/2)
	}
	return min(512, max(16, total/4)), total
}
