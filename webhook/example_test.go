package webhook_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// A receiver verifies and decodes Herald's callbacks with one shared
// Verifier. The request here is signed the way Herald signs it, so the
// example can run on its own.
func Example() {
	// The endpoint's secret, as shown when the endpoint was created. Read it
	// from configuration in real code.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	v, err := webhook.NewVerifier(secret)
	if err != nil {
		log.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.ParseRequest(r)
		if err != nil {
			http.Error(w, "invalid webhook", http.StatusBadRequest)
			return
		}
		// Retries deliver the same event again: deduplicate on ev.ID.
		fmt.Println(ev.Type, ev.Job.ID, ev.Final)
		w.WriteHeader(http.StatusNoContent)
	})

	// What Herald sends.
	body := `{"id":"evt_1","type":"verification.approved","timestamp":"2025-01-02T03:04:05Z",` +
		`"environment":"production","tenant_id":"ten_1","job":{"id":"job_1"},"final":true,"data":{"score":0.98}}`
	now := time.Now()
	sig, err := webhook.Sign(secret, "msg_1", now, []byte(body))
	if err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/hooks/herald", strings.NewReader(body))
	req.Header.Set(webhook.HeaderID, "msg_1")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, sig)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// A forged request is turned away.
	req = httptest.NewRequest(http.MethodPost, "/hooks/herald", strings.NewReader(strings.Replace(body, "0.98", "0.99", 1)))
	req.Header.Set(webhook.HeaderID, "msg_1")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, sig)
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// Output:
	// verification.approved job_1 true
	// 204
	// 400
}

// A sender keeps one Signer per secret and signs each delivery into a reused
// buffer, which does not allocate.
func ExampleSigner() {
	s, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	// Reuse sig for every delivery; it grows once and is not reallocated.
	sig := make([]byte, 0, 64)
	sig = s.AppendSignature(sig[:0], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	fmt.Printf("%s: %s\n", webhook.HeaderSignature, sig)
	// Output:
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}
