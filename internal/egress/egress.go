// Package egress is Herald's outbound HTTP client for webhook deliveries.
//
// Herald POSTs to URLs its customers type in, so every connection it opens
// is checked against the address actually being dialled: loopback, private,
// link-local (cloud metadata), CGNAT, multicast, reserved and documentation
// ranges are refused unless explicitly allowed. The check runs in the
// dialer's Control hook, after DNS resolution, for every connection the
// keep-alive pool opens, so DNS rebinding between save-time validation
// (CheckURL) and delivery cannot reach an internal address.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	defaultConnectTimeout      = 5 * time.Second
	defaultMaxIdleConnsPerHost = 64
	// checkURLLookupTimeout bounds CheckURL's DNS lookup when the caller's
	// context has no deadline.
	checkURLLookupTimeout = 5 * time.Second
)

// Options configure the client.
type Options struct {
	// AllowPrivate permits loopback/private/otherwise non-public targets
	// (--allow-private-destinations; for development and tests).
	AllowPrivate bool
	// AllowCIDRs are ranges explicitly opened even when AllowPrivate is false.
	AllowCIDRs []netip.Prefix
	// ConnectTimeout bounds each TCP connect. Default 5s.
	ConnectTimeout time.Duration
	// MaxIdleConnsPerHost is the keep-alive pool size per receiver. Default 64.
	MaxIdleConnsPerHost int
	// ProxyURL, when non-nil, sends every request through this proxy
	// (Transport.Proxy). Proxies are never taken from the environment.
	//
	// Schemes http, https and socks5 (net/http's Transport.Proxy) work;
	// https:// destinations are tunnelled with CONNECT through an http proxy.
	//
	// When ProxyURL is set the dial-time guard is NOT applied (the only
	// connection Herald opens is to the proxy, which is typically on a
	// private network); destinations are then checked by CheckURL when they
	// are saved, and by Do only when the host is a literal IP address; the
	// proxy is expected to enforce egress policy (docs/security.md).
	ProxyURL *url.URL
	// Resolver is used for both dialling and CheckURL. Nil means
	// net.DefaultResolver. Mainly for tests.
	Resolver *net.Resolver
	// RootCAs overrides the system trust store for verifying receivers'
	// certificates. Nil means the system roots. Mainly for tests.
	RootCAs *x509.CertPool
}

// Client is a *http.Client wrapper whose transport refuses non-public
// destinations at connect time (net.Dialer.Control checks the actual IP
// being dialled, so DNS rebinding cannot slip through), never follows
// redirects (a 3xx comes back as the response), requires TLS 1.2 or newer,
// allows HTTP/2, and uses no proxy unless Options.ProxyURL is set (see its
// comment: with a proxy, only CheckURL guards destinations).
//
// It sets no overall timeout: per-request deadlines come from the request's
// context. A Client is safe for concurrent use.
type Client struct {
	opts     Options
	resolver *net.Resolver
	hc       *http.Client
}

// New builds a Client from o, filling in defaults.
func New(o Options) *Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = defaultMaxIdleConnsPerHost
	}
	o.AllowCIDRs = append([]netip.Prefix(nil), o.AllowCIDRs...)
	for i, p := range o.AllowCIDRs {
		o.AllowCIDRs[i] = p.Masked()
	}

	c := &Client{opts: o, resolver: o.Resolver}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}

	dialer := &net.Dialer{
		Timeout:   o.ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Resolver:  o.Resolver,
	}
	if o.ProxyURL == nil {
		dialer.Control = c.control
	}

	tr := &http.Transport{
		Proxy:       nil, // never from the environment
		DialContext: dialer.DialContext,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    o.RootCAs,
		},
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		// ResponseHeaderTimeout deliberately unset: the caller's context
		// deadline governs.
	}
	if o.ProxyURL != nil {
		tr.Proxy = http.ProxyURL(o.ProxyURL)
	}

	c.hc = &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c
}

// Do sends req. Per-request timeouts come from req's context. Redirects are
// not followed: a 3xx response is returned as is.
//
// With a proxy, the dial-time guard cannot see the destination (the proxy
// resolves and connects), so Do refuses a URL whose host is a literal
// non-public IP address itself; names are checked only by CheckURL, when
// they are saved, and the proxy is expected to enforce egress policy.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if c.opts.ProxyURL != nil && req.URL != nil {
		_, ip, err := canonicalHost(req.URL.Hostname())
		if err != nil {
			return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(), Err: &blockedError{msg: err.Error() + refuseSuffix}}
		}
		if ip.IsValid() {
			if r := c.refusal(ip); r != "" {
				return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(),
					Err: &blockedError{msg: fmt.Sprintf("host %s is %s%s", ip, r, refuseSuffix)}}
			}
		}
	}
	return c.hc.Do(req)
}

// urlErrorOp is how net/http names a method in a *url.Error ("Post").
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// HTTPClient returns the underlying *http.Client (same guard, same pool).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// CloseIdleConnections closes keep-alive connections that are idle.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// ErrBlocked is wrapped by the error returned when a destination is refused,
// both by Do (at connect time; errors.Is works through *url.Error and
// *net.OpError) and by CheckURL.
var ErrBlocked = errors.New("egress: destination blocked")

// ErrInvalidURL is wrapped by CheckURL errors about the URL's form (scheme,
// host, userinfo, port) rather than its destination.
var ErrInvalidURL = errors.New("invalid destination URL")

// blockedError carries a human-readable reason and unwraps to ErrBlocked.
type blockedError struct{ msg string }

func (e *blockedError) Error() string { return e.msg }
func (e *blockedError) Unwrap() error { return ErrBlocked }

const refuseSuffix = "; Herald refuses non-public destinations"

// refusal returns "" if ip may be dialled, or why not.
func (c *Client) refusal(ip netip.Addr) string {
	if c.opts.AllowPrivate {
		return ""
	}
	r := nonPublicReason(ip)
	if r == "" {
		return ""
	}
	bare := ip.WithZone("")
	for _, p := range c.opts.AllowCIDRs {
		if p.Contains(bare) || p.Contains(bare.Unmap()) {
			return ""
		}
	}
	return r
}

// control is the net.Dialer.Control hook. address is the "ip:port" actually
// being connected to, after resolution.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &blockedError{msg: fmt.Sprintf("address %q is not an IP address and port%s", address, refuseSuffix)}
	}
	if r := c.refusal(ap.Addr()); r != "" {
		return &blockedError{msg: fmt.Sprintf("address %s is %s%s", ap.Addr(), r, refuseSuffix)}
	}
	return nil
}

// CheckURL validates a destination URL when it is saved: scheme http or
// https, a host, no userinfo, a valid port, and (unless AllowPrivate) a host
// that is not a literal non-public IP and, if it is a name, does not resolve
// only to non-public addresses. AllowCIDRs are honoured.
//
// If the name does not resolve at all (NXDOMAIN, no DNS, timeout), the URL
// is accepted: DNS may not be set up yet, and the dial-time guard still
// applies to every delivery. A name resolving to a mix of public and
// non-public addresses is accepted; at delivery only the public ones can be
// connected to.
//
// Errors wrap ErrInvalidURL (malformed) or ErrBlocked (non-public), and
// their messages are meant to be shown to the person who typed the URL.
func (c *Client) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return fmt.Errorf("%w: %q has no scheme; use an absolute URL starting with https:// or http://", ErrInvalidURL, raw)
		}
		return fmt.Errorf("%w: scheme %q is not supported; use https or http", ErrInvalidURL, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: the URL must not contain a username or password (user:pass@); send credentials in a custom header instead", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidURL, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: port %q is out of range 1-65535", ErrInvalidURL, p)
		}
	}

	// The host as a client connects to it: "１２７。０。０。１", "localhost.",
	// "0x7f.1" and "2130706433" are all 127.0.0.1 (canonicalHost).
	name, ip, err := canonicalHost(host)
	if err != nil {
		return err
	}
	if ip.IsValid() {
		r := c.refusal(ip)
		if ip.Is4() && host != ip.String() && !(name == "localhost" || strings.HasSuffix(name, ".localhost")) {
			// "127.1", "2130706433", "0x7f.0.0.1", "１２７。０。０。１": one
			// reader takes them for an address, another for a name.
			what := ""
			if r != "" {
				what = " (" + r + ")"
			}
			return fmt.Errorf("%w: host %q is the IPv4 address %s%s written otherwise; write it as a dotted-quad of four decimal numbers, e.g. 192.0.2.10", ErrInvalidURL, host, ip, what)
		}
		if r != "" {
			return &blockedError{msg: fmt.Sprintf("host %q is %s%s", host, r, refuseSuffix)}
		}
		return nil
	}
	if c.opts.AllowPrivate {
		return nil
	}
	host = name

	lctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, checkURLLookupTimeout)
		defer cancel()
	}
	addrs, err := c.resolver.LookupNetIP(lctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // unresolvable now; the dial-time guard still applies
	}
	if len(addrs) == 0 {
		return nil
	}
	first := ""
	for _, a := range addrs {
		r := c.refusal(a)
		if r == "" {
			return nil
		}
		if first == "" {
			first = fmt.Sprintf("%s is %s", a.WithZone("").Unmap(), r)
		}
	}
	return &blockedError{msg: fmt.Sprintf("host %q resolves only to non-public addresses (%s)%s", host, first, refuseSuffix)}
}

// looksNumeric reports whether host's last label is a number (decimal or
// 0x-hex), which WHATWG URL parsers and inet_aton treat as an IPv4 address.
func looksNumeric(host string) bool {
	h := strings.TrimSuffix(host, ".")
	if i := strings.LastIndexByte(h, '.'); i >= 0 {
		h = h[i+1:]
	}
	if h == "" {
		return false
	}
	lower := strings.ToLower(h)
	if strings.HasPrefix(lower, "0x") {
		for _, r := range lower[2:] {
			if !strings.ContainsRune("0123456789abcdef", r) {
				return false
			}
		}
		return true
	}
	for _, r := range h {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ErrorClass is what went wrong with an attempt, as recorded in the attempt log.
type ErrorClass string

// Error classes. ClassHTTP is also what callers record for a non-2xx status.
const (
	ClassNone    ErrorClass = ""
	ClassTimeout ErrorClass = "timeout"
	ClassDNS     ErrorClass = "dns"
	ClassConnect ErrorClass = "connect"
	ClassTLS     ErrorClass = "tls"
	ClassBlocked ErrorClass = "blocked"
	ClassHTTP    ErrorClass = "http"
	// ClassAuth is a failure to obtain the credentials for a receiver
	// (an OAuth2 token endpoint that refused or could not be reached).
	// Classify never returns it: the caller knows when it was fetching a token.
	ClassAuth ErrorClass = "auth"
)

// Classify maps an error from Do (or from reading the response body) to its
// class, checked in this order:
//
//   - nil → ClassNone
//   - ErrBlocked → ClassBlocked
//   - ErrInvalidTLS (an endpoint's certificate, key or CA bundle) → ClassTLS
//   - context.DeadlineExceeded / os.ErrDeadlineExceeded → ClassTimeout
//     (including a deadline that expires during DNS resolution)
//   - *net.DNSError → ClassDNS (including a DNS server that does not answer)
//   - any other net.Error with Timeout() → ClassTimeout (e.g. TLS handshake timeout)
//   - TLS failures (tls.RecordHeaderError, tls.AlertError,
//     tls.CertificateVerificationError, x509 errors, TLS alerts) → ClassTLS
//   - *net.OpError, connection refused/reset/aborted, unreachable, EOF,
//     unexpected EOF, context.Canceled → ClassConnect
//   - anything else (malformed response, protocol violations) → ClassHTTP
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	if errors.Is(err, ErrBlocked) {
		return ClassBlocked
	}
	if errors.Is(err, ErrInvalidTLS) {
		return ClassTLS
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ClassTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ClassDNS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	if isTLSError(err) {
		return ClassTLS
	}
	if isConnectError(err) {
		return ClassConnect
	}
	return ClassHTTP
}

func isTLSError(err error) bool {
	var (
		recErr    *tls.RecordHeaderError
		alertErr  tls.AlertError
		verifyErr *tls.CertificateVerificationError
		echErr    *tls.ECHRejectionError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		roots     x509.SystemRootsError
		cons      x509.ConstraintViolationError
		insecure  x509.InsecureAlgorithmError
		opErr     *net.OpError
	)
	switch {
	case errors.As(err, &recErr), errors.As(err, &alertErr), errors.As(err, &verifyErr),
		errors.As(err, &echErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &roots), errors.As(err, &cons),
		errors.As(err, &insecure):
		return true
	case errors.As(err, &opErr) && (opErr.Op == "remote error" || opErr.Op == "local error"):
		// crypto/tls reports alerts sent or received as *net.OpError with
		// these ops.
		return true
	}
	// Remaining handshake failures are plain errors prefixed "tls: ";
	// net/http replaces the RecordHeaderError of a plain-HTTP server answering
	// an https:// URL with a plain error of its own.
	msg := err.Error()
	return strings.Contains(msg, "tls: ") || strings.Contains(msg, "server gave HTTP response to HTTPS client")
}

func isConnectError(err error) bool {
	var opErr *net.OpError
	switch {
	case errors.As(err, &opErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, context.Canceled):
		return true
	}
	return false
}
