package dispatch

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
)

// tokenServer is a real OAuth2 token endpoint (client credentials) that
// counts how often it is asked, and the receiver that honours its tokens.
type tokenServer struct {
	*httptest.Server
	t         *testing.T
	fetches   atomic.Int64
	expiresIn atomic.Int64
	mu        sync.Mutex
	valid     map[string]bool
	problems  []string
}

const (
	oauthClientID     = "herald-acme"
	oauthClientSecret = "cs_live_Zq8v2mK4pT7wX1yB"
	oauthScope        = "kyc.results.write kyc.results.read"
	oauthAudience     = "https://api.acme-bank.example"
)

func newTokenServer(t *testing.T, listen string) *tokenServer {
	ts := &tokenServer{t: t, valid: map[string]bool{}}
	ts.expiresIn.Store(3600)
	ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(ts.serve))
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", listen, err)
		}
		ts.Listener.Close()
		ts.Listener = ln
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	n := ts.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	id, secret, ok := r.BasicAuth()
	if !ok || id != oauthClientID || secret != oauthClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client authentication failed for %s"}`, id)
		return
	}
	var bad []string
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		bad = append(bad, r.Method+" "+r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		bad = append(bad, err.Error())
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != oauthScope ||
		r.PostForm.Get("audience") != oauthAudience || r.PostForm.Get("client_secret") != "" {
		bad = append(bad, "form "+r.PostForm.Encode())
	}
	if len(bad) > 0 {
		ts.mu.Lock()
		ts.problems = append(ts.problems, bad...)
		ts.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	tok := fmt.Sprintf("at-%d-%d", n, time.Now().UnixNano())
	ts.mu.Lock()
	ts.valid[tok] = true
	ts.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": ts.expiresIn.Load()})
}

// revokeAll makes the receiver refuse every token issued so far.
func (ts *tokenServer) revokeAll() {
	ts.mu.Lock()
	clear(ts.valid)
	ts.mu.Unlock()
}

// receiver answers 401 unless it is given a valid token.
func (ts *tokenServer) receiver(t *testing.T) *sink {
	return newSink(t, func(r *http.Request, _ []byte) int {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if !ok || !ts.valid[tok] {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
}

func (ts *tokenServer) check(t *testing.T) {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.problems) > 0 {
		t.Fatalf("token requests were not as RFC 6749 client credentials: %v", ts.problems)
	}
}

func oauthAuth(tokenURL, secret string) *domain.EndpointAuth {
	return &domain.EndpointAuth{
		Type: domain.AuthOAuth2, TokenURL: tokenURL, ClientID: oauthClientID, ClientSecret: secret,
		Scope: oauthScope, Audience: oauthAudience,
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	ts := newTokenServer(t, "")
	rc := ts.receiver(t)
	e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
		e.Auth = oauthAuth(ts.URL+"/oauth/token", oauthClientSecret)
		e.MaxConcurrency = 8
	})

	// Many deliveries at once, over eight lanes: one token.
	var ids []string
	for range 40 {
		ids = append(ids, r.publish("verification.approved", `{"status":"approved"}`))
	}
	for _, id := range ids {
		d := r.succeeded(id, e.ID)
		if d.Attempts != 1 {
			t.Fatalf("delivery %s took %d attempts", id, d.Attempts)
		}
		if got := d.AttemptLog[0].RequestHeaders["Authorization"]; got != "Bearer ****" {
			t.Fatalf("logged Authorization %q", got)
		}
		noSecretsIn(t, d, oauthClientSecret, "at-1-")
	}
	ts.check(t)
	if n := ts.fetches.Load(); n != 1 {
		t.Fatalf("%d token fetches for 40 deliveries, want 1", n)
	}

	// The receiver stops honouring the token before it expires: its 401
	// makes one new fetch and the same attempt succeeds with the new token.
	ts.revokeAll()
	id := r.publish("verification.approved", `{}`)
	d := r.succeeded(id, e.ID)
	if d.Attempts != 1 || ts.fetches.Load() != 2 {
		t.Fatalf("after a 401: %d attempts, %d fetches; %s", d.Attempts, ts.fetches.Load(), attemptsJSON(d))
	}
	// ... and the new token is reused.
	r.succeeded(r.publish("verification.approved", `{}`), e.ID)
	if n := ts.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}

	// A short-lived token is reused until shortly before it expires, then
	// replaced.
	ts.expiresIn.Store(4)
	ts.revokeAll()
	r.succeeded(r.publish("verification.approved", `{}`), e.ID) // fetch 3, valid 4 s, reused for 2 s
	r.succeeded(r.publish("verification.approved", `{}`), e.ID)
	if n := ts.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	time.Sleep(2100 * time.Millisecond)
	r.succeeded(r.publish("verification.approved", `{}`), e.ID)
	if n := ts.fetches.Load(); n != 4 {
		t.Fatalf("after expiry: %d fetches, want 4", n)
	}
	ts.check(t)

	// A 401 that a new token does not cure is the receiver's answer.
	before := ts.fetches.Load()
	rc.respond(func(*http.Request, []byte) int { return http.StatusUnauthorized })
	d = r.settled(r.publish("verification.approved", `{}`), e.ID)
	if d.Status != domain.DeliveryPending || d.AttemptLog[0].ResponseStatus != 401 || d.AttemptLog[0].ErrorClass != "http" {
		t.Fatalf("persistent 401: %s %s", d.Status, attemptsJSON(d))
	}
	if n := ts.fetches.Load() - before; n != 1 {
		t.Fatalf("a persistent 401 made %d token fetches, want exactly 1", n)
	}
}

func TestOAuth2FailedTokenFetchIsAnAuthAttempt(t *testing.T) {
	r := newRig(t, egress.Options{AllowPrivate: true})
	ts := newTokenServer(t, "")
	rc := ts.receiver(t)
	const wrong = "cs_live_WRONG_secret_0000"
	e := r.endpoint(rc.URL, func(e *domain.Endpoint) { e.Auth = oauthAuth(ts.URL+"/oauth/token", wrong) })
	d := r.settled(r.publish("a.b", `{}`), e.ID)
	a := d.AttemptLog[0]
	t.Logf("error %q, status %d, body %q", a.Error, a.ResponseStatus, a.ResponseBody)
	if d.Status != domain.DeliveryPending || a.ErrorClass != "auth" || a.ResponseStatus != 401 {
		t.Fatalf("failed token fetch: %s %s", d.Status, attemptsJSON(d))
	}
	if !strings.Contains(a.Error, "invalid_client") || !strings.Contains(a.Error, ts.URL) || !strings.Contains(a.ResponseBody, "client authentication failed") {
		t.Fatalf("the attempt does not show the token endpoint's answer: %s", attemptsJSON(d))
	}
	if rc.count() != 0 {
		t.Fatal("the receiver was called without a token")
	}
	noSecretsIn(t, d, wrong)

	// The credentials are fixed: the next attempt fetches and delivers.
	e.Auth = oauthAuth(ts.URL+"/oauth/token", oauthClientSecret)
	r.update(e)
	r.succeeded(r.publish("a.b", `{}`), e.ID)
}

// The token endpoint is reached through the SSRF-guarded egress client.
func TestOAuth2TokenEndpointIsSSRFGuarded(t *testing.T) {
	r := newRig(t, egress.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	ts := newTokenServer(t, "127.0.0.2:0") // loopback, outside the opened range
	rc := ts.receiver(t)
	e := r.endpoint(rc.URL, func(e *domain.Endpoint) { e.Auth = oauthAuth(ts.URL+"/oauth/token", oauthClientSecret) })
	d := r.settled(r.publish("a.b", `{}`), e.ID)
	if a := d.AttemptLog[0]; a.ErrorClass != "blocked" || !strings.Contains(a.Error, "OAuth2 token") {
		t.Fatalf("token endpoint on a blocked address: %s", attemptsJSON(d))
	}
	if ts.fetches.Load() != 0 || rc.count() != 0 {
		t.Fatalf("fetches %d, receiver %d", ts.fetches.Load(), rc.count())
	}
}

// tokenCache under contention: many goroutines, one fetch; a burst of
// 401s on one token makes one more.
func TestOAuth2TokenCacheIsSharedSafely(t *testing.T) {
	ts := newTokenServer(t, "")
	c := newTokenCache(oauthAuth(ts.URL, oauthClientSecret), egress.New(egress.Options{AllowPrivate: true}))
	ctx := t.Context()
	var wg sync.WaitGroup
	toks := make(chan string, 64)
	for range 64 {
		wg.Go(func() {
			tok, err := c.token(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			toks <- tok.AccessToken
		})
	}
	wg.Wait()
	close(toks)
	first := ""
	for tk := range toks {
		if first == "" {
			first = tk
		} else if tk != first {
			t.Fatalf("tokens %s and %s", first, tk)
		}
	}
	stale, _ := c.token(ctx)
	for range 16 {
		wg.Go(func() {
			c.refused(stale)
			if _, err := c.token(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := ts.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// With an egress proxy, a token URL on a literal internal address is
// refused before the proxy is asked.
func TestOAuth2TokenEndpointThroughAProxyIsGuarded(t *testing.T) {
	proxy, used := newProxy(t, func(string) string { return "127.0.0.1:1" })
	pu, _ := url.Parse(proxy.URL)
	c := newTokenCache(oauthAuth("http://169.254.169.254/token", oauthClientSecret), egress.New(egress.Options{ProxyURL: pu}))
	_, err := c.token(t.Context())
	var a domain.Attempt
	c.describeTokenError(&a, err)
	if a.ErrorClass != "blocked" || used.Load() != 0 {
		t.Fatalf("class %q (%s), proxy used %d", a.ErrorClass, a.Error, used.Load())
	}
}

// A token endpoint that decodes Basic credentials plainly (Incode's) gets
// base64 of id:secret as they are with basic_encoding raw; by default they
// are form-encoded first, as RFC 6749 says.
func TestOAuth2RawBasicEncodingSendsTheSecretAsItIs(t *testing.T) {
	const secret = "s+/=:@%x"
	for encoding, want := range map[string]string{
		domain.BasicEncodingRaw: base64.StdEncoding.EncodeToString([]byte(oauthClientID + ":" + secret)),
		"":                      base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(oauthClientID) + ":" + url.QueryEscape(secret))),
	} {
		t.Run("encoding="+encoding, func(t *testing.T) {
			r := newRig(t, egress.Options{AllowPrivate: true})
			var got atomic.Value
			tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				got.Store(req.Header.Get("Authorization"))
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)
			}))
			t.Cleanup(tokens.Close)
			rc := newSink(t, func(*http.Request, []byte) int { return http.StatusOK })
			e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
				e.Auth = oauthAuth(tokens.URL+"/token", secret)
				e.Auth.BasicEncoding = encoding
			})
			r.succeeded(r.publish("verification.approved", `{}`), e.ID)
			if h, _ := got.Load().(string); h != "Basic "+want {
				t.Fatalf("token request Authorization %q, want %q", h, "Basic "+want)
			}
		})
	}
}
