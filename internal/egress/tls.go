package egress

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrInvalidTLS is wrapped by ParseTLS errors: a client certificate, key or
// CA bundle that cannot be used. Classify maps it to ClassTLS.
var ErrInvalidTLS = errors.New("invalid TLS settings")

// TLSParams is one receiver's TLS material, parsed: the client certificate
// Herald presents (mutual TLS) and the CA certificates the receiver's
// certificate must chain to instead of the system's. Build it with ParseTLS
// and give it to Client.WithTLS.
type TLSParams struct {
	// Certificate is presented when the receiver asks for one; nil for none.
	Certificate *tls.Certificate
	// RootCAs replaces the client's trust store for this receiver; nil keeps it.
	RootCAs *x509.CertPool
}

// ParseTLS parses PEM text as an endpoint stores it: a client certificate
// chain and its private key (both or neither) and an optional CA bundle.
// Empty strings are omitted settings; all three empty give (nil, nil).
//
// Errors wrap ErrInvalidTLS and say which field is wrong and why, in words
// meant for the person who pasted the PEM; they never include the key. The
// API calls it to validate at save time, the dispatcher to build the
// endpoint's client.
func ParseTLS(certPEM, keyPEM, caPEM string) (*TLSParams, error) {
	if certPEM == "" && keyPEM == "" && caPEM == "" {
		return nil, nil
	}
	p := &TLSParams{}
	switch {
	case certPEM != "" && keyPEM == "":
		return nil, fmt.Errorf("%w: tls.client_key: a client certificate needs its private key", ErrInvalidTLS)
	case certPEM == "" && keyPEM != "":
		return nil, fmt.Errorf("%w: tls.client_certificate: a client key needs its certificate", ErrInvalidTLS)
	case certPEM != "":
		if err := pemHas(certPEM, "CERTIFICATE"); err != nil {
			return nil, fmt.Errorf("%w: tls.client_certificate: %v", ErrInvalidTLS, err)
		}
		if err := pemHas(keyPEM, "PRIVATE KEY"); err != nil {
			return nil, fmt.Errorf("%w: tls.client_key: %v", ErrInvalidTLS, err)
		}
		cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
		if err != nil {
			// crypto/tls's messages never quote the key material.
			return nil, fmt.Errorf("%w: tls.client_certificate and tls.client_key: %v", ErrInvalidTLS, err)
		}
		if now := time.Now(); cert.Leaf != nil && now.After(cert.Leaf.NotAfter) {
			return nil, fmt.Errorf("%w: tls.client_certificate: the certificate (subject %q) expired on %s",
				ErrInvalidTLS, cert.Leaf.Subject.String(), cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		p.Certificate = &cert
	}
	if caPEM != "" {
		if err := pemHas(caPEM, "CERTIFICATE"); err != nil {
			return nil, fmt.Errorf("%w: tls.ca_bundle: %v", ErrInvalidTLS, err)
		}
		pool := x509.NewCertPool()
		rest := []byte(caPEM)
		n := 0
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: tls.ca_bundle: certificate %d: %v", ErrInvalidTLS, n+1, err)
			}
			pool.AddCert(c)
			n++
		}
		p.RootCAs = pool
	}
	return p, nil
}

// pemHas checks that s holds at least one PEM block whose type ends in
// suffix ("CERTIFICATE", "PRIVATE KEY"), so a pasted DER blob, a key in the
// certificate field or a truncated paste gets a message that says so.
func pemHas(s, suffix string) error {
	rest := []byte(s)
	var types []string
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if len(block.Type) >= len(suffix) && block.Type[len(block.Type)-len(suffix):] == suffix {
			return nil
		}
		types = append(types, block.Type)
	}
	if len(types) == 0 {
		return fmt.Errorf("no PEM block found (expected -----BEGIN %s-----)", suffix)
	}
	return fmt.Errorf("no %s PEM block found (found %v)", suffix, types)
}

// WithTLS returns a client for one receiver: the same SSRF dial guard,
// proxy, redirect policy, TLS 1.2 minimum and timeouts as c, with p's client
// certificate and trust store. It has its own connection pool, so keep it
// (one per endpoint) for connections to be reused, and call
// CloseIdleConnections when dropping it. A nil p returns c itself.
func (c *Client) WithTLS(p *TLSParams) *Client {
	if p == nil || (p.Certificate == nil && p.RootCAs == nil) {
		return c
	}
	base, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		// Tests may wrap the transport; there is nothing to clone.
		return c
	}
	tr := base.Clone() // same DialContext (the guard), Proxy and tuning; a new pool
	cfg := tr.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
		tr.TLSClientConfig = cfg
	}
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	if p.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*p.Certificate}
	}
	if p.RootCAs != nil {
		cfg.RootCAs = p.RootCAs
	}
	return &Client{
		opts:     c.opts,
		resolver: c.resolver,
		hc:       &http.Client{Transport: tr, CheckRedirect: c.hc.CheckRedirect},
	}
}
