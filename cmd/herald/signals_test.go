package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// TestTheOperatorWebhookIsSignedWithThePrintedSecretAndSurvivesKill9: the
// binary started with --operator-webhook-url and no secret prints one once;
// a delivery.exhausted whose first attempt the operator's receiver failed
// is retried by the process started after a kill -9, with the same
// webhook-id, and verifies with that secret both times.
func TestTheOperatorWebhookIsSignedWithThePrintedSecretAndSurvivesKill9(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	operator := servertest.NewReceiver(t)
	operator.Respond(func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	args := []string{"--operator-token", servertest.Token, "--operator-webhook-url", operator.URL}
	p := startProcess(t, db, args...)
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(p.stderr.String())
	if secret == "" {
		t.Fatalf("no operator webhook secret printed:\n%s", p.stderr.String())
	}
	operator.Trust(secret)

	p.Tenant("acme")
	failing := servertest.NewReceiver(t)
	failing.Respond(func(int, *http.Request) int { return http.StatusInternalServerError })
	p.Endpoint("acme", "sandbox", client.EndpointCreate{URL: failing.URL, RetryPolicy: &client.RetryPolicy{Preset: "none"}})
	et, _ := catalog.Lookup("verification.approved")
	p.Publish("acme", "sandbox", client.PublishEvent{Type: "verification.approved", Data: et.Example})

	first := operator.Next(15 * time.Second)
	if first.Valid != nil || first.Event.Type != domain.SignalDeliveryExhausted {
		t.Fatalf("first attempt: %v %s", first.Valid, first.Body)
	}
	// Once the failed attempt is recorded (its retry due in 5 s), kill.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds := p.Deliveries(domain.OperatorTenantID, "production", nil)
		if len(ds) == 1 && ds[0].AttemptCount == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed attempt was not recorded: %+v", ds)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.cmd.Process.Kill()
	_ = p.wait(t, 10*time.Second)

	again := startProcess(t, db, args...)
	if strings.Contains(again.stderr.String(), "whsec_") {
		t.Fatal("the secret was printed a second time")
	}
	second := operator.Next(30 * time.Second)
	if second.Valid != nil || second.ID != first.ID {
		t.Fatalf("after the restart: %v, webhook-id %s, want %s", second.Valid, second.ID, first.ID)
	}
}
