package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/transform"
	"github.com/heraldhq/herald/webhook"
)

// flatten is a transform to a vendor's flat shape; its output's keys come
// out sorted.
const flatten = `{event: .type, ref: .job.partner_params.ref, status: .data.status, tenantId: .tenant_id}`

// A transformed endpoint gets the program's output, signed over those bytes
// by every scheme of its list, and with identical_retries the retry is the
// same request byte for byte.
func TestATransformedEndpointReceivesTheProgramsOutputSignedAndRetriedIdentically(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		rc := newRawReceiver(t, func(n int) (string, string) {
			if n == 1 {
				return "text/plain", "not yet" // json-or-204: a failure
			}
			return "", "" // 204
		})
		ep := servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: rc.URL, Transform: flatten,
			Success: "json-or-204", IdenticalRetries: client.Ptr(true), RetryPolicy: &client.RetryPolicy{Delays: []string{"1s"}},
			Signatures: []client.Signature{{Scheme: client.SchemeStandardWebhooks},
				{Scheme: client.SchemeHMACHex, Header: "X-SmartKYC-Signature", Key: "text", Secret: "kyc-secret"}}}))(t)
		if got := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t); got.Transform != flatten {
			t.Fatalf("GET transform = %q", got.Transform)
		}
		p := h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved",
			Job:  &client.JobRef{ID: "job_1", PartnerParams: json.RawMessage(`{"ref":"a<b>&c"}`)},
			Data: json.RawMessage(`{"status":"approved","decision":{"result":"approved","reasons":[]},"reviewed_by":"auto"}`)})
		servertest.Eventually(t, 15*time.Second, "two attempts", func() bool { return len(rc.requests()) >= 2 })
		got := rc.requests()
		want := `{"event":"verification.approved","ref":"a<b>&c","status":"approved","tenantId":"acme"}`
		if string(got[0].Body) != want {
			t.Fatalf("body\n got %s\nwant %s", got[0].Body, want)
		}
		v, err := webhook.NewVerifier(ep.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.WithTolerance(time.Hour).Verify(got[0].Header, got[0].Body); err != nil {
			t.Errorf("the standard-webhooks signature does not verify over the transformed body: %v", err)
		}
		if !verifySignature(got[0].Body, got[0].Header.Get("X-SmartKYC-Signature"), "kyc-secret") {
			t.Error("the hmac-sha256-hex signature does not verify over the transformed body")
		}
		if !bytes.Equal(got[0].Body, got[1].Body) || got[0].Header.Get("webhook-signature") != got[1].Header.Get("webhook-signature") ||
			got[0].Header.Get("webhook-timestamp") != got[1].Header.Get("webhook-timestamp") {
			t.Errorf("identical_retries: the retry differs:\n%s %v\n%s %v", got[0].Body, got[0].Header, got[1].Body, got[1].Header)
		}
		d, _ := settledDelivery(h, "acme", "sandbox", p.ID, ep.ID)
		servertest.Eventually(t, 5*time.Second, "the delivery to succeed", func() bool {
			d = *h.Delivery("acme", "sandbox", d.ID)
			return d.Status == client.DeliverySucceeded
		})

		// The preview of the same endpoint shows the same body.
		pv := servertest.Must(sc.PreviewTransform(t.Context(), &client.PreviewRequest{EndpointID: ep.ID, EventID: p.ID}))(t)
		if pv.Body != want || pv.Headers["X-Smartkyc-Signature"] == "" {
			t.Errorf("preview %+v", pv)
		}
	})
}

// smallTransforms gives the server's transform workers a small memory limit,
// so that a memory bomb ends quickly, and a time limit long enough that a
// program that fails otherwise does so first on a busy machine under -race.
func smallTransforms(s *servertest.Settings) {
	s.Config.Transforms = transform.PoolConfig{Memory: 64 << 20, Limits: transform.Limits{Timeout: time.Second}}
}

// A transform that runs too long, answers too much or takes too much memory
// records a failed attempt of class transform with its reason, and is
// retried by the policy; meanwhile the server keeps delivering elsewhere.
func TestFailingTransformsRecordAFailedAttemptWithTheirReasonWhileOthersAreDelivered(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start(smallTransforms)
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		bad := servertest.NewReceiver(t)
		plain := servertest.NewReceiver(t)
		h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: plain.URL, EventTypes: []string{"verification.approved"}})
		cases := []struct {
			src     string
			reasons []transform.Reason
		}{
			{"def f: f; f", []transform.Reason{transform.ReasonTimeout}},
			{"last(repeat(1))", []transform.Reason{transform.ReasonTimeout}},
			{`"y" * 2000000`, []transform.Reason{transform.ReasonOutputTooLarge}},
			// One step of gojq: the worker's memory limit ends it, or (under
			// the race detector, where the pool watches its size) the time
			// limit may come first.
			{`"x" * 1e9 | length`, []transform.Reason{transform.ReasonMemoryLimit, transform.ReasonTimeout}},
			{`reduce range(40) as $i ("x"; . + .) | length`, []transform.Reason{transform.ReasonMemoryLimit, transform.ReasonTimeout}},
		}
		ids := make([]string, len(cases))
		for i, c := range cases {
			ids[i] = servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: bad.URL, Transform: c.src,
				EventTypes: []string{"verification.failed"}, AllowUnregisteredTypes: true, RetryPolicy: &client.RetryPolicy{Delays: []string{"1h"}}}))(t).ID
		}
		before := residentBytes()
		failed := h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.failed",
			Data: json.RawMessage(`{"status":"failed","decision":{"result":"declined","reasons":[]},"reviewed_by":"auto"}`)})
		// While the bad transforms run, events to the plain endpoint arrive.
		for range 5 {
			h.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved",
				Data: json.RawMessage(`{"status":"approved","decision":{"result":"approved","reasons":[]},"reviewed_by":"auto"}`)})
			plain.Next(10 * time.Second)
		}
		for i, c := range cases {
			d, _ := settledDelivery(h, "acme", "sandbox", failed.ID, ids[i])
			if len(d.Attempts) != 1 || d.Status != client.DeliveryPending {
				t.Fatalf("%s: status %s, attempts %+v; want one failed attempt and a retry to come", c.src, d.Status, d.Attempts)
			}
			a := d.Attempts[0]
			ok := false
			for _, r := range c.reasons {
				ok = ok || strings.HasPrefix(a.Error, "transform "+string(r)+":")
			}
			if a.ErrorClass != transform.ErrClass || !ok {
				t.Errorf("%s: attempt class %q error %q, want class transform and reason %v", c.src, a.ErrorClass, a.Error, c.reasons)
			}
		}
		bad.Quiet(200 * time.Millisecond)
		// Had a bomb run in this process, it would hold hundreds of MiB
		// more now: the Go runtime gives memory back to the system slowly.
		if after := residentBytes(); before > 0 && after-before > 100<<20 {
			t.Errorf("the server grew from %d to %d MiB resident", before>>20, after>>20)
		}
	})
}

// residentBytes is this process's resident size, 0 where /proc does not say.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// A program that does not compile is refused on create and on PATCH, naming
// the field and the line and column, and nothing is saved.
func TestBadTransformsAreRefusedWithTheirPositionAndNothingIsSaved(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		for src, at := range map[string]string{
			"{event: .type,\n data: .data | nosuch}": "line 2, column 16",
			".a | | .b":                              "line 1, column 6",
			"{at: now}":                              "line 1, column 6",
			"empty":                                  "line 1, column 1",
		} {
			_, err := sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: "https://example.com/hook", Transform: src})
			wantInvalid(t, err, "body.transform")
			if err == nil || !strings.Contains(err.Error(), at) {
				t.Errorf("create with %q: %v, want the position %s", src, err, at)
			}
		}
		if l := servertest.Must(sc.ListEndpoints(t.Context(), nil))(t); len(l.Data) != 0 {
			t.Fatalf("saved: %+v", l.Data)
		}
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://example.com/hook", Transform: ".data"})
		_, err := sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Transform: client.Ptr("{a: 1} | .b |"),
			Name: client.Ptr("renamed")})
		wantInvalid(t, err, "body.transform")
		if got := servertest.Must(sc.GetEndpoint(t.Context(), ep.ID))(t); got.Transform != ".data" || got.Name == "renamed" {
			t.Fatalf("after a refused PATCH: transform %q, name %q", got.Transform, got.Name)
		}
		got := servertest.Must(sc.UpdateEndpoint(t.Context(), ep.ID, &client.EndpointUpdate{Transform: client.Ptr("")}))(t)
		if got.Transform != "" {
			t.Fatalf("\"\" did not remove the transform: %q", got.Transform)
		}
	})
}

// The preview runs the transform as an attempt would, and a transform that
// fails on the event is a 422 on transform with its reason.
func TestThePreviewRunsTheTransformAndNamesItsFailure(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	ev := &client.PublishEvent{Type: "verification.approved", Job: &client.JobRef{ID: "job_9"},
		Data: json.RawMessage(`{"status":"approved","decision":{"result":"approved","reasons":[]},"reviewed_by":"auto"}`)}
	// With a profile: the transform's input is still the standard envelope,
	// its output the body, and the profile's signatures sign it.
	pv := servertest.Must(sc.PreviewTransform(t.Context(), &client.PreviewRequest{Event: ev,
		Endpoint: &client.EndpointUpdate{Profile: client.Ptr("smart-kyc"), ProfileOptions: profileOptions(`{"api_secret":"s3cret"}`),
			Transform: client.Ptr(`{id: .job.id, kind: .type}`)}}))(t)
	if pv.Body != `{"id":"job_9","kind":"verification.approved"}` || !verifySignature([]byte(pv.Body), pv.Headers["X-Smartkyc-Signature"], "s3cret") {
		t.Fatalf("preview %+v", pv)
	}
	for src, reason := range map[string]string{"def f: f; f": "timeout", "(.id, .type)": "many_outputs", `.type + 1`: "runtime"} {
		_, err := sc.PreviewTransform(t.Context(), &client.PreviewRequest{Event: ev, Endpoint: &client.EndpointUpdate{Transform: client.Ptr(src)}})
		wantInvalid(t, err, "body.transform")
		if err == nil || !strings.Contains(err.Error(), "transform "+reason) {
			t.Errorf("preview of %q: %v, want reason %s", src, err, reason)
		}
	}
	// body-api-key adds a member to the transform's output, which must be
	// an object.
	_, err := sc.PreviewTransform(t.Context(), &client.PreviewRequest{Event: ev, Endpoint: &client.EndpointUpdate{Transform: client.Ptr("[.id]"),
		Signatures: []client.Signature{{Scheme: client.SchemeBodyAPIKey, Field: "apiKey", APIKey: "k"}}}})
	if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !strings.Contains(e.Error(), "the transform's output is an array") {
		t.Errorf("members on an array output: %v", e)
	}
}
