package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// A test send may name a job: profiles that place job identifiers and
// partner params render them (smile-id's SmileJobID and PartnerParams,
// incode's interviewId and externalId), partner params byte for byte, and
// the job of that id is not changed.
func TestATestSendWithAJobRendersItsIdentifiersAndPartnerParams(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		smile, incode := servertest.NewReceiver(t), servertest.NewReceiver(t)
		smileEP := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: smile.URL, Profile: "smile-id",
			ProfileOptions: profileOptions(`{"partner_id":"` + smilePartnerID + `","api_key":"` + smileAPIKey + `"}`)})
		incodeEP := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: incode.URL, Profile: "incode"})
		servertest.Must(sc.PutJob(t.Context(), &client.JobRef{ID: "job_t", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id":"u-1"}`)}))(t)

		const params = "{ \"externalId\" : \"ext<1>&\",\n  \"name\": \"Zoë\" }"
		job := &client.TestJob{ID: "job_t", Kind: "sample", PartnerParams: json.RawMessage(params)}
		servertest.Must(sc.TestEndpoint(t.Context(), smileEP.ID, &client.TestSend{EventType: "verification.approved", Job: job}))(t)
		if got := smile.Next(10 * time.Second); !bytes.Contains(got.Body, []byte(`"SmileJobID":"job_t","PartnerParams":`+params+`,`)) {
			t.Errorf("smile-id body %s", got.Body)
		}
		servertest.Must(sc.TestEndpoint(t.Context(), incodeEP.ID, &client.TestSend{EventType: "verification.completed", Job: job}))(t)
		if got := incode.Next(10 * time.Second); string(got.Body) != `{"interviewId":"job_t","externalId":"ext<1>&","onboardingStatus":"ONBOARDING_FINISHED"}` {
			t.Errorf("incode body %s", got.Body)
		}

		kept := servertest.Must(sc.GetJob(t.Context(), "job_t"))(t)
		if kept.Kind != "kyc" || string(kept.PartnerParams) != `{"user_id":"u-1"}` || len(kept.Events) != 0 {
			t.Fatalf("a test send changed the job: %+v", kept)
		}
	})
}

// A bad job in a test send is a 422 naming the field, and nothing is sent
// or logged.
func TestABadJobInATestSendIsRefusedNamingTheField(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		sc := h.As("acme", "sandbox")
		rc := servertest.NewReceiver(t)
		ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL})
		for field, job := range map[string]*client.TestJob{
			"body.job.partner_params": {ID: "job_1", PartnerParams: json.RawMessage(`["not","an","object"]`)},
			"body.job.id":             {ID: ""},
			"body.job.kind":           {ID: "job_1", Kind: string(bytes.Repeat([]byte("k"), 65))},
		} {
			_, err := sc.TestEndpoint(t.Context(), ep.ID, &client.TestSend{EventType: "webhook.test", Job: job})
			wantInvalid(t, err, field)
		}
		// A callback URL is not a test send's: it goes to the endpoint named.
		r := h.Do(servertest.Call{Method: "POST", Path: "/v1/endpoints/" + ep.ID + "/test", Tenant: "acme", Env: "sandbox",
			Body: `{"event_type":"webhook.test","job":{"id":"job_1","callback_url":"https://example.com/cb"}}`})
		if r.Status != http.StatusUnprocessableEntity || !bytes.Contains(r.Body, []byte("callback_url")) {
			t.Fatalf("a callback URL: %d %s", r.Status, r.Body)
		}
		rc.Quiet(200 * time.Millisecond)
		if ds := h.Deliveries("acme", "sandbox", nil); len(ds) != 0 {
			t.Fatalf("refused test sends logged %d deliveries", len(ds))
		}
	})
}
