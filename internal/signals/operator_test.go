package signals_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/signals"
)

// TestOperatorWebhookSecretIsMadeOnceKeptAndTheWebhookFollowsTheFlags: a
// first start with a URL and no secret makes one (for the caller to show
// once); a later start keeps it, and the webhook's deliveries verify with
// it; a start without the URL disables the webhook; each change is in the
// audit log as the operator's. (cmd/herald's kill -9 test starts the
// binary again; here the later starts are what server.New runs of them.)
func TestOperatorWebhookSecretIsMadeOnceKeptAndTheWebhookFollowsTheFlags(t *testing.T) {
	operator := servertest.NewReceiver(t)
	h := servertest.Start(t, servertest.WithOperatorWebhook(operator.URL, ""))
	secret := h.Server.GeneratedOperatorWebhookSecret()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the first start made the secret %q", secret)
	}
	guard := egress.New(egress.Options{AllowPrivate: true})
	again := func(url string) {
		t.Helper()
		made, err := signals.ConfigureOperator(t.Context(), h.Store, guard, signals.Operator{URL: url}, domain.Now())
		if err != nil || made != "" {
			t.Fatalf("a later start: made %q, %v", made, err)
		}
	}
	again(operator.URL)

	operator.Trust(secret)
	h.Tenant("acme")
	ep := h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "https://hooks.example.com/kyc"})
	h.Server.Signals().Signal(t.Context(), domain.Signal{Type: domain.SignalEndpointDisabled, TenantID: "acme",
		Environment: domain.Sandbox, EndpointID: ep.ID, Reason: "the receiver answered 410 Gone"})
	if p := verified(t, operator, domain.SignalEndpointDisabled); p.EndpointID != ep.ID || p.EndpointURL != "https://hooks.example.com/kyc" {
		t.Fatalf("the operator got %+v", p)
	}
	op := h.As(domain.OperatorTenantID, "production")
	got := servertest.Must(op.GetEndpoint(t.Context(), domain.OperatorEndpointID))(t)
	if got.Status != "active" || !slices.Equal(got.EventTypes, domain.SignalTypes) || got.URL != operator.URL {
		t.Fatalf("the operator webhook is %+v", got)
	}

	again("")
	got = servertest.Must(op.GetEndpoint(t.Context(), domain.OperatorEndpointID))(t)
	if got.Status != "disabled" {
		t.Fatalf("a start without --operator-webhook-url left the webhook %s", got.Status)
	}
	log := servertest.Must(h.Client.ListAuditLog(t.Context(), &client.AuditLogParams{Tenant: domain.OperatorTenantID}))(t).Data
	var actions []string
	for _, e := range log {
		if e.ActorType != "operator" {
			t.Errorf("%s recorded as %s's", e.Action, e.ActorType)
		}
		if c, ok := e.Changes["secret"]; ok && (c.To != nil && string(c.To) != `"****"` || c.From != nil && string(c.From) != `"****"`) {
			t.Errorf("%s shows the secret: %+v", e.Action, c)
		}
		actions = append(actions, e.Action)
	}
	// Newest first; the second start changed nothing, so recorded nothing.
	if want := []string{"endpoint.disabled", "endpoint.created", "tenant.created"}; !slices.Equal(actions, want) {
		t.Fatalf("the audit log of the operator's scope: %v, want %v", actions, want)
	}
}

// TestABadOperatorWebhookIsRefusedAtStart: a URL that is not absolute
// http(s), one the egress guard would refuse at every delivery, and a
// malformed secret are refused, naming the flag, and change nothing.
func TestABadOperatorWebhookIsRefusedAtStart(t *testing.T) {
	h := servertest.Start(t)
	guard := egress.New(egress.Options{}) // private addresses refused
	for _, c := range []struct {
		url, secret, flag string
		httpsOnly         bool
	}{
		{"ftp://alerts.example.com/", "", "--operator-webhook-url", false},
		{"alerts.example.com/hook", "", "--operator-webhook-url", false},
		{"http://127.0.0.1:9/hook", "", "--allow-cidr", false},
		{"http://alerts.example.com/hook", "", "--no-production-https-only", true},
		{"https://alerts.example.com/hook", "whsec_short", "--operator-webhook-secret", false},
	} {
		op := signals.Operator{URL: c.url, Secret: c.secret, HTTPSOnly: c.httpsOnly}
		_, err := signals.ConfigureOperator(t.Context(), h.Store, guard, op, domain.Now())
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s %s: %v, want an error naming %s", c.url, c.secret, err, c.flag)
		}
	}
	if _, err := h.Store.GetTenant(t.Context(), domain.OperatorTenantID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a refused operator webhook made the operator's tenant: %v", err)
	}
}
