package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
)

// Token reuse: a token is used until tokenExpiryMargin before it expires
// (at most half its lifetime, so short-lived tokens are reused too); a
// failed fetch is remembered for tokenFailureHold, so a token endpoint that
// is down is not asked once per waiting delivery.
const (
	tokenExpiryMargin = 10 * time.Second
	tokenFailureHold  = time.Second
	// maxTokenErrorBody is how much of a token endpoint's refusal the
	// attempt log keeps.
	maxTokenErrorBody = 2 << 10
)

// tokenCache holds one endpoint's OAuth2 client-credentials token. Every
// lane goroutine of the endpoint shares it: one fetch at a time, and
// goroutines that waited for it take its result instead of fetching again.
// Unlike oauth2.ReuseTokenSource, each fetch runs under the context of the
// attempt that needed it (its deadline, its cancellation at shutdown), and
// a 401 drops exactly the token that was refused, so a burst of 401s on
// one stale token makes one new fetch.
type tokenCache struct {
	cfg clientcredentials.Config
	// ctxClient is the SSRF-guarded egress client the token endpoint is
	// reached through (oauth2.HTTPClient); it follows no redirects.
	ctxClient *http.Client
	secret    string

	// fetching is a one-slot lock held during a fetch; waiting on it
	// honours the waiter's context, which a sync.Mutex would not.
	fetching chan struct{}

	mu        sync.Mutex
	tok       *oauth2.Token
	reuseTill time.Time
	failed    error
	failedAt  time.Time
}

func newTokenCache(a *domain.EndpointAuth, base *egress.Client) *tokenCache {
	c := &tokenCache{
		cfg: clientcredentials.Config{
			ClientID:     a.ClientID,
			ClientSecret: a.ClientSecret,
			TokenURL:     a.TokenURL,
			Scopes:       strings.Fields(a.Scope),
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		secret:   a.ClientSecret,
		fetching: make(chan struct{}, 1),
	}
	if a.Audience != "" {
		c.cfg.EndpointParams = url.Values{"audience": {a.Audience}}
	}
	var transport http.RoundTripper
	if base != nil {
		transport = egressTransport{base}
	}
	if a.BasicEncoding == domain.BasicEncodingRaw {
		if transport == nil {
			transport = http.DefaultTransport
		}
		transport = rawBasicAuth{next: transport, id: a.ClientID, secret: a.ClientSecret}
	}
	if transport != nil {
		c.ctxClient = &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

// rawBasicAuth sends the token request's Basic credentials as base64 of
// id:secret as they are: x/oauth2 form-encodes them first (RFC 6749
// 2.3.1), which a receiver that decodes them plainly refuses whenever the
// secret holds + / = : @ or %.
type rawBasicAuth struct {
	next       http.RoundTripper
	id, secret string
}

func (t rawBasicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(t.id, t.secret)
	return t.next.RoundTrip(r)
}

// egressTransport sends through egress.Client.Do, so the token request
// gets every check a delivery gets (including, with a proxy, the refusal
// of literal non-public addresses), on the same connection pool.
type egressTransport struct{ c *egress.Client }

func (t egressTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.c.Do(r) }

// cached returns the token while it is fresh, or the recent failure.
func (c *tokenCache) cached(now time.Time) (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && now.Before(c.reuseTill) {
		return c.tok, nil
	}
	if c.failed != nil && now.Sub(c.failedAt) < tokenFailureHold {
		return nil, c.failed
	}
	return nil, nil
}

// token returns a usable access token, fetching one if needed.
func (c *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	if t, err := c.cached(time.Now()); t != nil || err != nil {
		return t, err
	}
	select {
	case c.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.fetching }()
	// Another goroutine may have fetched while this one waited.
	if t, err := c.cached(time.Now()); t != nil || err != nil {
		return t, err
	}
	if c.ctxClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, c.ctxClient)
	}
	start := time.Now()
	t, err := c.cfg.Token(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// An attempt's own deadline or shutdown says nothing about the
		// token endpoint: do not hold it against the others.
		if ctx.Err() == nil {
			c.failed, c.failedAt = err, time.Now()
		}
		return nil, err
	}
	c.tok, c.failed = t, nil
	c.reuseTill = reuseUntil(t, start)
	return t, nil
}

// reuseUntil is when a token fetched at start stops being used: shortly
// before it expires. A token without expires_in is used until refused.
func reuseUntil(t *oauth2.Token, start time.Time) time.Time {
	if t.Expiry.IsZero() {
		return time.Unix(1<<62, 0)
	}
	life := t.Expiry.Sub(start)
	if t.ExpiresIn > 0 {
		life = time.Duration(t.ExpiresIn) * time.Second
	}
	margin := min(tokenExpiryMargin, life/2)
	// Expiry was computed after the answer arrived; counting the lifetime
	// from the request's start errs on the safe side.
	return start.Add(life - margin)
}

// refused drops t after a receiver answered 401 to it, unless another
// goroutine already replaced it.
func (c *tokenCache) refused(t *oauth2.Token) {
	c.mu.Lock()
	if c.tok == t {
		c.tok = nil
	}
	c.mu.Unlock()
}

// describeTokenError is a failed token fetch as the attempt log shows it:
// the token endpoint's status and the start of its answer, never the
// client secret (should the endpoint echo it back).
func (c *tokenCache) describeTokenError(a *domain.Attempt, err error) {
	a.ErrorClass = string(egress.ClassAuth)
	if errors.Is(err, egress.ErrBlocked) {
		a.ErrorClass = string(egress.ClassBlocked)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		a.ResponseStatus = re.Response.StatusCode
		a.ResponseHeaders = recordedHeaders(re.Response.Header, "", nil)
		body := re.Body[:min(len(re.Body), maxTokenErrorBody)]
		a.ResponseBody = c.scrub(string(body))
		msg := "the token endpoint " + c.cfg.TokenURL + " answered " + strconv.Itoa(re.Response.StatusCode)
		if re.ErrorCode != "" {
			msg += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				msg += " (" + re.ErrorDescription + ")"
			}
		}
		a.Error = "fetching an OAuth2 token failed: " + c.scrub(msg)
		return
	}
	a.Error = c.scrub(fmt.Sprintf("fetching an OAuth2 token from %s failed: %v", c.cfg.TokenURL, err))
}

func (c *tokenCache) scrub(s string) string {
	if c.secret == "" {
		return s
	}
	return strings.ReplaceAll(s, c.secret, "****")
}
