package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/profile"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/transform"
	"github.com/heraldhq/herald/webhook"
)

// timeout is the endpoint's, cut to leave a margin inside the lease so an
// attempt never outlives it.
func (d *Dispatcher) timeout(e *endpoint) time.Duration {
	t := time.Duration(e.TimeoutMS) * time.Millisecond
	if t <= 0 {
		t = domain.DefaultTimeoutMS * time.Millisecond
	}
	return min(t, d.cfg.Lease-5*time.Second)
}

// maxDrain is how much of a response is read, to judge it and to keep
// the connection alive; beyond it the connection is dropped instead.
const maxDrain = 256 << 10

// send makes one attempt and decides what follows. It reports false when
// shutdown cut the attempt short: such an attempt is released, not counted.
func (d *Dispatcher) send(j *job) (store.Outcome, bool) {
	ep, ev := j.ep, &j.claimed.Event
	// at is the attempt's time on the dispatcher's clock; start measures it.
	at, start := d.cfg.Now(), time.Now()
	o := store.Outcome{
		DeliveryID: j.claimed.DeliveryID,
		EndpointID: ep.ID,
		Scope:      domain.Scope{TenantID: ev.TenantID, Environment: ev.Environment},
		EventID:    ev.ID,
		Scrub:      ev.Sensitive,
		OrderedJob: j.claimed.OrderedJob,
		Breaker:    &d.cfg.Breaker,
		Attempt: domain.Attempt{
			ID:         domain.NewIDAt(domain.PrefixAttempt, at),
			DeliveryID: j.claimed.DeliveryID,
			Number:     j.claimed.Attempts + 1,
			At:         at,
		},
	}
	a := &o.Attempt

	// A delivery whose event is past its TTL (a one-time code, say) is
	// worth nothing to the receiver: it is cancelled, not sent.
	if ev.Expired(at) {
		a.Error = "the event expired before it could be delivered"
		o.Status = domain.DeliveryCancelled
		return o, true
	}
	// A sensitive event's data is erased once delivered; a resend has
	// nothing true left to send, so it must not send the placeholder.
	if ev.Sensitive && bytes.Equal(ev.Data, domain.Redacted) {
		a.Error = "the event's sensitive data was erased after it was delivered; it cannot be sent again"
		o.Status = domain.DeliveryCancelled
		return o, true
	}
	if ev.ErasedAt != nil {
		// A retry of an erased event's delivery: nothing of it is left to send.
		a.Error = "the event's data was erased on request; it cannot be sent"
		o.Status = domain.DeliveryCancelled
		return o, true
	}
	if j.bodyErr != "" {
		// No retry can help until the endpoint's settings change.
		a.Error = j.bodyErr
		o.Status = domain.DeliveryFailed
		return o, true
	}
	// One deadline for the whole attempt, the transform's wait and run
	// included, so that it stays inside the lease.
	ctx, cancel := context.WithTimeout(d.sendCtx, d.timeout(ep))
	defer cancel()
	body := j.body
	if ep.Transform != "" {
		// Run per attempt, in a worker process; a failure is a failed
		// attempt like any other, and it is not signed (an identical retry
		// signs as the first attempt that sent a body).
		out, err := ep.transformed(ctx, d.cfg.Transforms, j.body)
		if err != nil {
			a.DurationMS = time.Since(start).Milliseconds()
			if d.sendCtx.Err() != nil {
				return o, false
			}
			a.ErrorClass, a.Error = transform.ErrClass, transformError(err)
			return d.decide(j, o, nil), true
		}
		body = out
	}
	instant := signingInstant(ep, &j.claimed, at)
	o.SignedAt = instant
	body = ep.signed(body, instant)
	// Room for a v1a entry and two v1 entries (an ed25519 endpoint during
	// a secret rotation) without allocating.
	var sig [256]byte
	ts := instant.Unix()
	signature := ep.sign(sig[:0], ev.ID, ts, body, instant)
	url := ep.URL
	if j.claimed.TargetURL != "" {
		url = j.claimed.TargetURL
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.ErrorClass, a.Error = string(egress.ClassConnect), "invalid URL: "+err.Error()
		return d.decide(j, o, nil), true
	}
	h := req.Header
	ep.setHeaders(h, d.cfg.UserAgent, ev.ID, ts, signature, body)
	if ep.IdenticalRetries && j.claimed.Attempts > 0 && !j.claimed.SignedAt.IsZero() {
		d.keepFirstSignatures(ctx, j, h, ev.ID, ts, body)
	}
	record := func() { a.RequestHeaders = recordedHeaders(h, ep.authHeader, ep.shown) }

	client := ep.client
	if client == nil {
		client = d.client
	}
	if ep.clientErr != nil {
		record()
		a.ErrorClass, a.Error = string(egress.ClassTLS), "the endpoint's TLS settings cannot be used: "+ep.clientErr.Error()
		return d.decide(j, o, nil), true
	}
	var tok *oauth2.Token
	if ep.tokens != nil {
		if tok, err = ep.tokens.token(ctx); err != nil {
			a.DurationMS = time.Since(start).Milliseconds()
			if d.sendCtx.Err() != nil {
				return o, false
			}
			record()
			ep.tokens.describeTokenError(a, err)
			return d.decide(j, o, nil), true
		}
		h["Authorization"] = []string{bearer(tok)}
	}
	record()

	resp, err := client.Do(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && tok != nil {
		// The token may have been revoked before it expired: drop it,
		// fetch a new one and try once more, within the same attempt.
		drain(resp)
		ep.tokens.refused(tok)
		if tok, err = ep.tokens.token(ctx); err != nil {
			a.DurationMS = time.Since(start).Milliseconds()
			if d.sendCtx.Err() != nil {
				return o, false
			}
			ep.tokens.describeTokenError(a, err)
			a.Error = "the receiver answered 401 and " + a.Error
			return d.decide(j, o, nil), true
		}
		retry := req.Clone(ctx)
		retry.Body, _ = req.GetBody()
		retry.Header["Authorization"] = []string{bearer(tok)}
		resp, err = client.Do(retry)
	}
	if err != nil {
		a.DurationMS = time.Since(start).Milliseconds()
		if d.sendCtx.Err() != nil {
			return o, false
		}
		a.ErrorClass, a.Error = string(egress.Classify(err)), err.Error()
		return d.decide(j, o, nil), true
	}
	// Read what the success rule needs (json-or-204 judges the whole body,
	// up to maxDrain), keep what the log stores, drop the rest.
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxDrain))
	if len(body) == maxDrain {
		// A receiver that streams megabytes back is not worth the read.
		cancel()
	}
	resp.Body.Close()
	a.DurationMS = time.Since(start).Milliseconds()
	a.ResponseStatus = resp.StatusCode
	j.fullBody = body
	// What the log keeps of the answer is the endpoint's choice: a
	// receiver's answer may hold personal data.
	switch ep.ResponseBody {
	case domain.ResponseBodyNone:
	case domain.ResponseBodyHeaders:
		a.ResponseHeaders = recordedHeaders(resp.Header, "", nil)
	default:
		a.ResponseHeaders = recordedHeaders(resp.Header, "", nil)
		a.ResponseBody = string(body[:min(len(body), domain.MaxStoredResponseBody)])
	}
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		if d.sendCtx.Err() != nil {
			return o, false
		}
		a.ErrorClass, a.Error = string(egress.Classify(readErr)), "reading the response: "+readErr.Error()
		return d.decide(j, o, nil), true
	}
	return d.decide(j, o, resp), true
}

// transformError is how the attempt log shows a transform's failure: with
// its reason first ("transform timeout: …").
func transformError(err error) string {
	msg := err.Error()
	if !strings.HasPrefix(msg, "transform") {
		msg = "transform: " + msg
	}
	return msg
}

// signingInstant is the instant an attempt is signed at, to the
// millisecond (Smile ID's timestamp has no finer unit, and the delivery
// keeps it): the attempt's start, or, for an endpoint with identical
// retries, the first attempt's, so every retry sends the same bytes and
// headers.
func signingInstant(ep *endpoint, c *store.Claimed, start time.Time) time.Time {
	if ep.IdenticalRetries && !c.SignedAt.IsZero() {
		return c.SignedAt
	}
	return start.Truncate(time.Millisecond)
}

// bearer is the Authorization value for an OAuth2 token.
func bearer(t *oauth2.Token) string { return t.Type() + " " + t.AccessToken }

// drain reads a little of a response that is being dropped, so its
// connection can go back to the pool.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// succeeded applies the endpoint's success rule to an answer; when it is
// not a success, why is what the attempt records beyond the status.
// json-or-204 is Incode's "200 OK with response type application/json, or
// 204": the media type must be exactly application/json (parameters such
// as charset allowed) and the body JSON. falseFails (success_false_fails)
// fails a 200 whose JSON object body has "success": false.
func succeeded(rule string, falseFails bool, status int, contentType string, body []byte) (ok bool, why string) {
	if rule == domain.SuccessJSONOr204 {
		if status == http.StatusNoContent {
			return true, ""
		}
		if status != http.StatusOK {
			return false, ""
		}
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
			return false, fmt.Sprintf(" with Content-Type %q, not application/json (the endpoint's success rule is json-or-204)", contentType)
		}
		if !json.Valid(body) {
			return false, " without a JSON body (the endpoint's success rule is json-or-204)"
		}
	} else if status < 200 || status > 299 {
		return false, ""
	}
	if falseFails && status == http.StatusOK && successFalse(body) {
		return false, ` with "success": false (the endpoint sets success_false_fails)`
	}
	return true, ""
}

// successFalse reports whether body is a JSON object whose member
// "success" (that exact name; the last one, as JSON decoders keep) is
// false. A missing or non-boolean success is not a failure. body is at
// most maxDrain bytes; only its top level is read, nested values skipped
// unparsed, with no allocation.
func successFalse(body []byte) bool {
	return bytes.Contains(body, []byte(`"success"`)) && json.Valid(body) && string(profile.Member(body, "success")) == "false"
}

// decide turns an attempt into the delivery's next state.
func (d *Dispatcher) decide(j *job, o store.Outcome, resp *http.Response) store.Outcome {
	a := &o.Attempt
	if resp != nil {
		ok, why := succeeded(j.ep.Success, j.ep.SuccessFalseFails, resp.StatusCode, resp.Header.Get("Content-Type"), j.fullBody)
		if ok {
			o.Status = domain.DeliverySucceeded
			return o
		}
		a.ErrorClass = string(egress.ClassHTTP)
		a.Error = "the receiver answered " + strconv.Itoa(resp.StatusCode) + why
		if resp.StatusCode == http.StatusGone {
			o.Status = domain.DeliveryFailed
			o.DisableEndpoint = "the receiver answered 410 Gone"
			return o
		}
	}
	delay, ok := d.types.policy(j.claimed.Event.Type, j.ep).NextDelay(a.Number)
	if !ok {
		o.Status = domain.DeliveryFailed
		return o
	}
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		// Retry-After can lengthen the wait, up to the cap, never shorten it.
		if ra, ok := retryAfter(resp.Header.Get("Retry-After"), a.At); ok {
			delay = max(delay, min(ra, d.cfg.RetryAfterCap))
		}
	}
	next := a.At.Add(time.Duration(a.DurationMS)*time.Millisecond + delay)
	if ev := &j.claimed.Event; ev.Expired(next) {
		// A retry after the event's TTL would not be sent: the delivery
		// ends now, as an expired one does, rather than wait for nothing.
		o.Status = domain.DeliveryCancelled
		a.Error += "; not retried: the event expires at " + ev.ExpiresAt.UTC().Format(time.RFC3339) + ", before the next attempt"
		return o
	}
	o.Status = domain.DeliveryPending
	o.NextAttemptAt = next
	return o
}

// retryAfter parses delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// setHeaders sets every header of a delivery but an OAuth2 bearer token,
// which is fetched when sending.
func (ep *endpoint) setHeaders(h http.Header, userAgent, eventID string, ts int64, signature, body []byte) {
	for k, v := range ep.Headers {
		h.Set(k, v)
	}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{userAgent}
	// Lower-case, as the Standard Webhooks specification writes them.
	h[webhook.HeaderID] = []string{eventID}
	h[webhook.HeaderTimestamp] = []string{strconv.FormatInt(ts, 10)}
	h[webhook.HeaderSignature] = []string{string(signature)}
	for _, m := range ep.macs {
		var hexSig [64]byte
		h[m.header] = []string{string(m.mac.appendHex(hexSig[:0], body))}
	}
	if ep.authHeader != "" {
		h[ep.authHeader] = []string{ep.authValue}
	}
}

// recordedHeaders is a request or response as the attempt log shows it.
// Authorization (and Proxy-Authorization) keep only their scheme ("Bearer
// ****"); secret is the header of the endpoint's header auth, masked
// whatever its name; other secret-looking headers (an endpoint's custom
// X-Api-Key, say) keep their last four characters. The signatures are
// kept, webhook-signature and the hmac-sha256-hex headers (shown): they are
// derived from the body, not secrets, and receivers debug with them.
func recordedHeaders(h http.Header, secret string, shown []string) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		switch {
		case k == "Authorization" || k == "Proxy-Authorization":
			v = maskAuthorization(v)
		case k == secret:
			v = "****"
		case k == webhook.HeaderSignature || slices.Contains(shown, k):
		case domain.SensitiveHeader(k):
			v = domain.Mask(v)
		}
		out[k] = v
	}
	return out
}

// maskAuthorization keeps the scheme of an Authorization value, when it
// has one, and nothing of the credentials.
func maskAuthorization(v string) string {
	if i := strings.IndexByte(v, ' '); i > 0 && i <= 16 {
		return v[:i] + " ****"
	}
	return "****"
}
