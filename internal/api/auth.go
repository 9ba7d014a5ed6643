package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/store"
)

// principal is who is calling: the operator, or a tenant's API key.
type principal struct {
	key *domain.APIKey // nil for the operator
	// session says the key stands for a person signed in to the portal.
	session bool
	// consoleSession is the console session of an operator signed in to
	// the console; empty for the operator token.
	consoleSession string
	// client and userAgent say where the call came from, for the audit
	// log: the address (limit.Client) and the User-Agent header.
	client, userAgent string
}

type principalKey struct{}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// operatorOnly marks operations a tenant's key may not call.
var operatorOnly = map[string]any{"operator_only": true}

// queryCredentials are parameters that must never carry a key: URLs end up
// in logs and browser histories.
var queryCredentials = []string{"api_key", "apikey", "key", "token", "access_token"}

// authenticate resolves the bearer token to a principal, refuses
// operator-only calls to keys and applies each key's rate limit.
func (s *Server) authenticate(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		for _, q := range queryCredentials {
			if ctx.Query(q) != "" {
				_ = huma.WriteErr(api, ctx, http.StatusBadRequest, "credentials are accepted in the Authorization header only, never in the URL",
					&huma.ErrorDetail{Location: "query." + q, Message: "remove it and send Authorization: Bearer <key>"})
				return
			}
		}
		token, ok := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
		if !ok || token == "" {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="herald"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "send the operator token or an API key as Authorization: Bearer <token>")
			return
		}
		r, _ := humago.Unwrap(ctx)
		client := limit.Client(r)
		if wait, ok := s.cfg.Throttle.Check(client); !ok {
			ctx.SetHeader("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "too many wrong credentials from this address; wait Retry-After seconds before trying again")
			return
		}
		hash := credential.Hash(token)
		if subtle.ConstantTimeCompare(hash, s.cfg.OperatorTokenHash) == 1 {
			s.admit(api, ctx, r, "", next, principal{})
			return
		}
		var console string
		var key *domain.APIKey
		var err error
		portal := isPortalSession(token)
		if portal {
			if key, console, err = s.portalPrincipal(ctx.Context(), hash); err == nil && console != "" {
				s.admit(api, ctx, r, "", next, principal{consoleSession: console})
				return
			}
		} else {
			key, err = s.keys.lookup(ctx.Context(), s.store, hash)
		}
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			_ = writeProblem(api, ctx, s.problem(err))
			return
		}
		if key == nil || !key.Usable(time.Now()) {
			s.cfg.Throttle.Fail(client)
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "the bearer token is not a valid operator token or API key (revoked and expired keys are refused)")
			return
		}
		if op := ctx.Operation(); op != nil && op.Metadata["operator_only"] == true {
			_ = huma.WriteErr(api, ctx, http.StatusForbidden, "this call needs the operator token; an API key cannot make it")
			return
		}
		perMinute, burst := s.tenantLimits(ctx.Context(), key.TenantID)
		allowed, err := s.limits.allow(ctx, key, perMinute, burst)
		if err != nil {
			_ = writeProblem(api, ctx, s.problem(err))
			return
		}
		if !allowed {
			s.cfg.Metrics.RateLimited(key.TenantID)
			_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "rate limit reached for this API key; wait for Retry-After seconds")
			return
		}
		if !portal {
			s.keys.touch(s.store, key, s.log)
		}
		s.admit(api, ctx, r, key.TenantID, next, principal{key: key, session: portal})
	}
}

// admit runs the operation for an authenticated caller once the bytes of
// its request body fit in the budget: the process's, and its tenant's
// (tenant "" for the operator, who counts against the process's only).
// What is reserved is the body's declared length, or the most the
// operation reads when the length is not declared.
func (s *Server) admit(api huma.API, ctx huma.Context, r *http.Request, tenant string, next func(huma.Context), p principal) {
	n := int64(0)
	if op := ctx.Operation(); op != nil && r.Body != nil && r.Body != http.NoBody {
		n = op.MaxBodyBytes
		if r.ContentLength >= 0 && r.ContentLength < n {
			n = r.ContentLength
		}
	}
	release, err := s.cfg.Budget.Take(tenant, n)
	switch {
	case errors.Is(err, limit.ErrTenantFull):
		ctx.SetHeader("Retry-After", "1")
		_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "this tenant has as many request bytes in flight as it may; wait for Retry-After seconds and send again")
		return
	case err != nil:
		ctx.SetHeader("Retry-After", "1")
		_ = huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "Herald has as many request bytes in flight as it takes; nothing was changed, send again after Retry-After seconds")
		return
	}
	defer release()
	p.client, p.userAgent = limit.Client(r).String(), r.UserAgent()
	next(huma.WithValue(ctx, principalKey{}, p))
}

func writeProblem(api huma.API, ctx huma.Context, err error) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return huma.WriteErr(api, ctx, se.GetStatus(), se.Error())
	}
	return huma.WriteErr(api, ctx, http.StatusInternalServerError, "internal error")
}

// keyCache keeps recently used keys so that a request costs no query.
// Revocation and rotation in this process clear it at once; another
// process's cache lets a revoked key work for at most keyCacheTTL.
type keyCache struct {
	mu      sync.Mutex
	byHash  map[string]cachedKey
	touched map[string]time.Time
}

type cachedKey struct {
	key     *domain.APIKey
	fetched time.Time
}

const (
	keyCacheTTL   = 10 * time.Second
	touchInterval = time.Minute
)

func newKeyCache() *keyCache {
	return &keyCache{byHash: map[string]cachedKey{}, touched: map[string]time.Time{}}
}

func (c *keyCache) lookup(ctx context.Context, st store.Store, hash []byte) (*domain.APIKey, error) {
	c.mu.Lock()
	e, ok := c.byHash[string(hash)]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < keyCacheTTL {
		return e.key, nil
	}
	k, err := st.APIKeyByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.byHash[string(hash)] = cachedKey{key: k, fetched: time.Now()}
	c.mu.Unlock()
	return k, nil
}

func (c *keyCache) clear() {
	c.mu.Lock()
	clear(c.byHash)
	c.mu.Unlock()
}

// touch records that a key was used, at most once a minute per key and
// off the request's path.
func (c *keyCache) touch(st store.Store, k *domain.APIKey, log interface{ Warn(string, ...any) }) {
	now := time.Now()
	c.mu.Lock()
	last := c.touched[k.ID]
	due := now.Sub(last) >= touchInterval
	if due {
		c.touched[k.ID] = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.TouchAPIKey(ctx, k.ID, now); err != nil {
			log.Warn("recording an API key's last use failed", "key", k.Prefix, "err", err)
		}
	}()
}

// limits applies each API key's rate limit to all of Herald's processes
// together: the key's token bucket is kept in the store (limit.Shared).
type limits struct{ shared *limit.Shared }

func newLimits(st limit.Tokens) *limits { return &limits{shared: limit.NewShared(st)} }

// keyBatch is how many tokens of a key's bucket a process takes from the
// store at once: a sixteenth of the burst, so a busy key costs one round
// trip every few requests, while what one process holds unspent stays a
// small part of the burst the others could use.
func keyBatch(burst int) int { return min(max(1, burst/16), 1000) }

// allow takes a token for the key and sets the RateLimit headers; on
// refusal it also sets Retry-After. It fails when the store does.
func (l *limits) allow(ctx huma.Context, k *domain.APIKey, perMinute, burst int) (bool, error) {
	d, err := l.shared.Take(ctx.Context(), store.TokenBucket{ID: k.ID, Tokens: perMinute, PerSeconds: 60, Burst: burst}, keyBatch(burst))
	if err != nil {
		return false, err
	}
	tokens := max(0, d.Left)
	perSecond := float64(perMinute) / 60
	ctx.SetHeader("RateLimit-Limit", strconv.Itoa(perMinute))
	ctx.SetHeader("RateLimit-Remaining", strconv.Itoa(int(tokens)))
	ctx.SetHeader("RateLimit-Reset", strconv.Itoa(int(math.Ceil(max(0, float64(burst)-tokens)/perSecond))))
	if !d.OK {
		ctx.SetHeader("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Wait.Seconds())))))
	}
	return d.OK, nil
}

// tenantLimits returns a tenant's rate limit, or the defaults.
func (s *Server) tenantLimits(ctx context.Context, tenantID string) (perMinute, burst int) {
	perMinute, burst = domain.DefaultRateLimitPerMinute, domain.DefaultRateLimitBurst
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return perMinute, burst
	}
	if t.RateLimitPerMinute > 0 {
		perMinute = t.RateLimitPerMinute
	}
	if t.RateLimitBurst > 0 {
		burst = t.RateLimitBurst
	}
	return perMinute, burst
}
