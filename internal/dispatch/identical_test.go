package dispatch

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/webhook"
)

// A signing-secret rotation between an identical retry's attempts changes
// nothing that is sent: the retry carries the first attempt's bytes and
// headers (webhook-signature and the whsec-keyed hex header by the old
// secret alone, which receivers still hold during the grace period).
// Without identical retries the retry signs afresh, with both secrets.
func TestARotationBetweenIdenticalRetriesKeepsTheFirstAttemptsBytesAndHeaders(t *testing.T) {
	for _, identical := range []bool{true, false} {
		r := newRig(t, egress.Options{AllowPrivate: true})
		rc := newSink(t, func(_ *http.Request, _ []byte) int { return http.StatusServiceUnavailable })
		e := r.endpoint(rc.URL, func(e *domain.Endpoint) {
			e.IdenticalRetries = identical
			e.RetryPolicy = domain.RetryPolicy{Delays: []string{"1s"}}
			e.Signatures = []domain.Signature{{Scheme: domain.SchemeStandardWebhooks}, {Scheme: domain.SchemeHMACHex, Header: "X-Sig", Key: domain.KeyWhsec}}
		})
		id := r.publish("verification.approved", `{"status":"approved"}`)
		r.settled(id, e.ID)
		old := e.Secret
		next, _ := webhook.NewSecret()
		e.RotateSecret(next, time.Now(), time.Hour)
		r.update(e)
		rc.respond(func(_ *http.Request, _ []byte) int { return http.StatusOK })
		deadline := time.Now().Add(10 * time.Second)
		for rc.count() < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		hits := rc.all()
		if len(hits) != 2 {
			t.Fatalf("identical %v: %d requests", identical, len(hits))
		}
		first, retry := hits[0], hits[1]
		if string(first.body) != string(retry.body) {
			t.Errorf("identical %v: bodies differ:\n%s\n%s", identical, first.body, retry.body)
		}
		verify(t, old, retry)
		if !identical {
			verify(t, next, retry)
			if n := len(strings.Fields(retry.header.Get("webhook-signature"))); n != 2 {
				t.Errorf("a fresh retry during the rotation carries %d signatures, want both", n)
			}
			continue
		}
		if len(first.header) != len(retry.header) {
			t.Errorf("headers differ:\n%v\n%v", first.header, retry.header)
		}
		for k, v := range first.header {
			if strings.Join(retry.header[k], "\n") != strings.Join(v, "\n") {
				t.Errorf("header %s: %q, then %q", k, v, retry.header[k])
			}
		}
	}
}
