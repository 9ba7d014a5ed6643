package dispatch

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/profile"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/webhook"
)

// endpoint is a domain.Endpoint prepared for sending: everything that can
// be worked out once (signers, keys, auth headers, the TLS client, the
// OAuth2 token cache) is, and is reused while the endpoint is unchanged.
// It is shared by every lane goroutine of the endpoint: nothing in it
// changes after prepare except through its own locks.
type endpoint struct {
	domain.Endpoint
	signer *webhook.Signer
	// previous signs too during a secret rotation's grace period.
	previous *webhook.Signer
	// ed25519Key signs (v1a) when Signing is ed25519.
	ed25519Key ed25519.PrivateKey

	mode payloadMode
	// body renders the profile's body (a profile other than standard);
	// nil renders Herald's envelope in mode.
	body *profile.Renderer
	// members are the body-api-key members, added to the body in order.
	members []bodyMember
	// macs are the hmac-sha256-hex headers; shown names them, for the log.
	macs  []headerMAC
	shown []string
	// bodySig appends Smile ID's timestamp and signature (body-signature).
	bodySig *bodySigner

	// authHeader and authValue are a static credential (basic, bearer,
	// header); tokens fetches OAuth2 tokens (oauth2_client_credentials).
	authHeader string
	authValue  string
	tokens     *tokenCache

	// client sends to the receiver: the dispatcher's, or one of its own
	// with the endpoint's client certificate and CA (clientErr when that
	// material cannot be used; every attempt then fails with class tls).
	client    *egress.Client
	ownClient bool
	clientErr error
}

// sign appends the webhook-signature value: one entry per key in use.
// now decides whether a rotation's grace period is on: an identical retry
// signs as its first attempt did, previous secret included.
func (e *endpoint) sign(dst []byte, id string, ts int64, body []byte, now time.Time) []byte {
	rotating := e.Rotating(now) // prepare made e.previous for the previous secret
	if e.ed25519Key != nil {
		dst = webhook.AppendSignatureEd25519(dst, e.ed25519Key, id, ts, body)
		if !rotating {
			return dst
		}
		// During a rotation's grace period the HMAC entries go too, so
		// receivers still verifying with a whsec_ secret (a switch from
		// hmac to ed25519, say) keep working until it ends.
		dst = append(dst, ' ')
	}
	dst = e.signer.AppendSignature(dst, id, ts, body)
	if rotating {
		dst = append(dst, ' ')
		dst = e.previous.AppendSignature(dst, id, ts, body)
	}
	return dst
}

// render makes the endpoint's body for ev, all but its body signature,
// which depends on the attempt's instant. shared renders (and caches) the
// endpoint-free body of a mode; body-api-key makes a body of its own. For
// an endpoint with a transform it is the transform's input, the envelope of
// its payload mode (whatever its profile): the transform runs per attempt
// (transformed), and its output takes the members.
func (e *endpoint) render(ev *domain.Event, shared func(payloadMode) []byte) ([]byte, string) {
	if e.Transform != "" {
		return shared(e.mode), ""
	}
	var b []byte
	if e.body != nil {
		in := profile.NewInput(ev)
		b = e.body.Append(make([]byte, 0, 256+len(ev.Data)), &in)
	} else {
		b = shared(e.mode)
	}
	return e.withMembers(b, "in payload mode raw the body is the event's data, and this event's data is")
}

// withMembers adds the body-api-key members to the body b; when b is not an
// object, why says so, with what b is after the words of source.
func (e *endpoint) withMembers(b []byte, source string) (_ []byte, why string) {
	if e.members == nil && e.bodySig == nil {
		return b, ""
	}
	if !domain.IsJSONObject(b) {
		return nil, "the endpoint adds members to the body (signatures " + e.bodyScheme() + "), which needs a JSON object, " +
			"but " + source + " " + jsonKind(b)
	}
	for _, m := range e.members {
		b = placeMember(withoutMember(bytes.TrimSpace(b), m.name), m.member, m.first)
	}
	return b, ""
}

// transformed runs the endpoint's transform over the input render made and
// adds the members to its output: the body of one attempt. Its errors are
// the transform's (a *transform.Error, or the wait for a worker).
func (e *endpoint) transformed(ctx context.Context, t Transformer, input []byte) ([]byte, error) {
	if t == nil {
		return nil, errors.New("transform: this process runs no transforms")
	}
	out, err := t.Run(ctx, e.Transform, input)
	if err != nil {
		return nil, err
	}
	b, why := e.withMembers(out, "the transform's output is")
	if why != "" {
		return nil, domain.Invalid("transform", "%s", why)
	}
	return b, nil
}

// ownBody reports whether the endpoint's body is its own rather than the
// rendering of its payload mode shared with other endpoints (a transform's
// input is that rendering).
func (e *endpoint) ownBody() bool {
	return e.Transform == "" && (e.members != nil || e.bodySig != nil || e.body != nil)
}

// bodyScheme names the first scheme that adds to the body.
func (e *endpoint) bodyScheme() string {
	if e.members != nil {
		return domain.SchemeBodyAPIKey
	}
	return domain.SchemeBodySignature
}

// signed is the body as sent at instant: with Smile ID's timestamp and
// signature when the endpoint carries them.
func (e *endpoint) signed(body []byte, instant time.Time) []byte {
	if e.bodySig == nil {
		return body
	}
	return e.bodySig.appendTo(body, instant)
}

// jsonKind names the type of a JSON value, without showing it.
func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "empty"
	}
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// close lets go of what the endpoint holds that is not garbage collected.
func (e *endpoint) close() {
	if e.ownClient {
		e.client.CloseIdleConnections()
	}
}

// prepare builds the sending form of an endpoint. old, when set, is the
// previous form of the same endpoint: its TLS client (with its connection
// pool) and its OAuth2 token are kept when their settings did not change.
func prepare(e domain.Endpoint, base *egress.Client, old *endpoint) (*endpoint, error) {
	signer, err := webhook.NewSigner(e.Secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	p := &endpoint{Endpoint: e, signer: signer, client: base, mode: parsePayloadMode(e.PayloadMode, e.ThinPartnerParams)}
	if e.PreviousSecret != "" {
		if p.previous, err = webhook.NewSigner(e.PreviousSecret); err != nil {
			return nil, fmt.Errorf("endpoint %s: previous secret: %w", e.ID, err)
		}
	}
	if e.Signing == domain.SigningEd25519 {
		if p.ed25519Key, err = webhook.ParsePrivateKey(e.SigningPrivateKey); err != nil {
			return nil, fmt.Errorf("endpoint %s: ed25519 signing key: %w", e.ID, err)
		}
	}

	if e.Profile != "" && e.Profile != domain.ProfileStandard {
		prof, ok := profile.Get(e.Profile)
		if !ok {
			return nil, fmt.Errorf("endpoint %s: unknown profile %q", e.ID, e.Profile)
		}
		if p.body, err = prof.Renderer(e.ProfileOptions); err != nil {
			return nil, fmt.Errorf("endpoint %s: profile %s: %w", e.ID, e.Profile, err)
		}
	}
	if err := p.prepareSignatures(); err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
	}

	if a := e.Auth; a != nil {
		switch a.Type {
		case domain.AuthBasic:
			p.authHeader = "Authorization"
			p.authValue = "Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password))
		case domain.AuthBearer:
			p.authHeader, p.authValue = "Authorization", "Bearer "+a.Token
		case domain.AuthHeader:
			p.authHeader, p.authValue = http.CanonicalHeaderKey(a.Name), a.Value
		case domain.AuthOAuth2:
			if old != nil && old.tokens != nil && old.Auth != nil && *old.Auth == *a {
				p.tokens = old.tokens
			} else {
				p.tokens = newTokenCache(a, base)
			}
		}
	}

	if t := e.TLS; t != nil && (t.ClientCertificate != "" || t.CABundle != "") {
		if old != nil && old.ownClient && old.TLS != nil && *old.TLS == *t {
			p.client, p.ownClient = old.client, true
		} else if params, err := egress.ParseTLS(t.ClientCertificate, t.ClientKey, t.CABundle); err != nil {
			p.clientErr = err
		} else if base != nil {
			p.client, p.ownClient = base.WithTLS(params), true
		}
	}
	return p, nil
}

// prepareSignatures readies the schemes of the list beside the Standard
// Webhooks signature, which every delivery carries. The hex HMAC keyed with
// the whsec_ secret uses the current secret only, even during a rotation:
// its header holds one value.
func (p *endpoint) prepareSignatures() error {
	for _, s := range p.SignatureList() {
		switch s.Scheme {
		case domain.SchemeHMACHex:
			key := []byte(s.Secret)
			if s.Key != domain.KeyText {
				var err error
				if key, err = webhook.ParseSecret(p.Secret); err != nil {
					return err
				}
			}
			h := http.CanonicalHeaderKey(s.Header)
			p.macs = append(p.macs, headerMAC{header: h, mac: newMACPool(key)})
			p.shown = append(p.shown, h)
		case domain.SchemeBodyAPIKey:
			name, _ := json.Marshal(s.Field)
			value, _ := json.Marshal(s.APIKey)
			member := append(append(append(make([]byte, 0, len(name)+len(value)+1), name...), ':'), value...)
			p.members = append(p.members, bodyMember{name: s.Field, member: member, first: s.Position == domain.PositionFirst})
		case domain.SchemeBodySignature:
			p.bodySig = newBodySigner(s.PartnerID, s.APIKey)
		}
	}
	return nil
}

// bodyMember is a member body-api-key adds: `"name":value`, first or last.
type bodyMember struct {
	name   string
	member []byte
	first  bool
}

// headerMAC is an hmac-sha256-hex header and its key.
type headerMAC struct {
	header string
	mac    *macPool
}

// endpointCache keeps prepared endpoints between claims.
type endpointCache struct {
	base *egress.Client
	mu   sync.Mutex
	m    map[string]*endpoint
}

func newEndpointCache(base *egress.Client) *endpointCache {
	return &endpointCache{base: base, m: map[string]*endpoint{}}
}

// get returns the endpoints of a claimed batch. An endpoint prepared before
// is kept while the claim found it at the same version (its updated_at,
// which every change of its URL, headers, secret, auth or status moves);
// the others are read fresh in one query, so a change applies to the next
// batch without every claim reading every endpoint again.
func (c *endpointCache) get(ctx context.Context, q Queue, claimed []store.Claimed) (map[string]*endpoint, error) {
	out := make(map[string]*endpoint, 4)
	var ids []string
	c.mu.Lock()
	for i := range claimed {
		cl := &claimed[i]
		if _, kept := out[cl.EndpointID]; kept || slices.Contains(ids, cl.EndpointID) {
			continue
		}
		if cached := c.m[cl.EndpointID]; cached != nil && !cl.EndpointUpdatedAt.IsZero() && cached.UpdatedAt.Equal(cl.EndpointUpdatedAt) {
			out[cl.EndpointID] = cached
			continue
		}
		ids = append(ids, cl.EndpointID)
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return out, nil
	}
	eps, err := q.EndpointsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range eps {
		cached := c.m[e.ID]
		if cached == nil || !cached.UpdatedAt.Equal(e.UpdatedAt) || cached.Secret != e.Secret {
			prepared, err := prepare(e, c.base, cached)
			if err != nil {
				return nil, err
			}
			if cached != nil && cached.client != prepared.client {
				// Jobs of the old form may still be sending: only idle
				// connections go.
				cached.close()
			}
			cached = prepared
			c.m[e.ID] = cached
		}
		out[e.ID] = cached
	}
	return out, nil
}
