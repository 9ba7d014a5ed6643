package dispatch

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/webhook"
)

// keepFirstSignatures makes an identical retry send its first attempt's
// signature headers (webhook-signature and the hmac-sha256-hex headers),
// as the attempt log recorded them, where the endpoint's keys changed since
// (a secret rotation between the attempts adds the new secret's signature,
// and keys the whsec hex header with it). A recorded value is kept only
// when it still signs this body, at this instant, with a key the endpoint
// holds (the previous secret during and after the grace period); any other
// stays as signed now. The body is the first attempt's already: it is made
// at the first attempt's instant.
func (d *Dispatcher) keepFirstSignatures(ctx context.Context, j *job, h http.Header, id string, ts int64, body []byte) {
	ev := &j.claimed.Event
	del, err := d.queue.GetDelivery(ctx, domain.Scope{TenantID: ev.TenantID, Environment: ev.Environment}, j.claimed.DeliveryID)
	if err != nil || len(del.AttemptLog) == 0 || del.AttemptLog[0].RequestHeaders == nil {
		if err != nil {
			d.log.Warn("identical retry: the first attempt's headers could not be read; signing afresh", "delivery", j.claimed.DeliveryID, "err", err)
		}
		return
	}
	first := del.AttemptLog[0].RequestHeaders
	ep := j.ep
	if rec, ok := first[webhook.HeaderSignature]; ok && rec != h.Get(webhook.HeaderSignature) && ep.signsWith(rec, id, ts, body) {
		h[webhook.HeaderSignature] = []string{rec}
	}
	for _, m := range ep.macs {
		if rec, ok := first[m.header]; ok && rec != h.Get(m.header) && slices.Contains(ep.previousHex(m.header, body), rec) {
			h[m.header] = []string{rec}
		}
	}
}

// signsWith reports whether every entry of a webhook-signature value is one
// the endpoint makes for id, ts and body with a key it holds.
func (e *endpoint) signsWith(value, id string, ts int64, body []byte) bool {
	held := []string{string(e.signer.AppendSignature(nil, id, ts, body))}
	if e.previous != nil {
		held = append(held, string(e.previous.AppendSignature(nil, id, ts, body)))
	}
	if e.ed25519Key != nil {
		held = append(held, string(webhook.AppendSignatureEd25519(nil, e.ed25519Key, id, ts, body)))
	}
	entries := strings.Fields(value)
	return len(entries) > 0 && !slices.ContainsFunc(entries, func(s string) bool { return !slices.Contains(held, s) })
}

// previousHex is the hex HMAC of body for the header keyed with the
// previous whsec_ secret, when the header is whsec-keyed and there is one.
func (e *endpoint) previousHex(header string, body []byte) []string {
	if e.PreviousSecret == "" {
		return nil
	}
	for _, s := range e.SignatureList() {
		if s.Scheme != domain.SchemeHMACHex || s.Key == domain.KeyText || http.CanonicalHeaderKey(s.Header) != header {
			continue
		}
		key, err := webhook.ParseSecret(e.PreviousSecret)
		if err != nil {
			return nil
		}
		return []string{string(newMACPool(key).appendHex(nil, body))}
	}
	return nil
}
