package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The job list finds jobs by a partner-param value, kind and last event,
// newest first when asked, in the caller's scope only; an over-long value
// is refused naming the parameter.
func TestJobListFindsByPartnerParamKindAndStatusNewestFirst(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		h.Tenant("globex")
		ctx := t.Context()
		for _, j := range []struct{ tenant, id, kind, params, typ string }{
			{"acme", "job_1", "kyc", `{"user_id":"u-1"}`, "a.started"},
			{"acme", "job_2", "kyb", `{"user_id":"u-2"}`, "a.done"},
			{"acme", "job_3", "kyc", `{"user_id":"u-1","n":7}`, "a.done"},
			{"globex", "job_9", "kyc", `{"user_id":"u-1"}`, "a.done"},
		} {
			h.Publish(j.tenant, "sandbox", client.PublishEvent{Type: j.typ, Data: json.RawMessage(`{}`),
				Job: &client.JobRef{ID: j.id, Kind: j.kind, PartnerParams: json.RawMessage(j.params)}})
		}
		acme := h.As("acme", "sandbox")
		ids := func(p *client.JobListParams) []string {
			t.Helper()
			js := servertest.Must(acme.ListJobs(ctx, p))(t)
			var out []string
			for _, j := range js.Data {
				out = append(out, j.ID)
			}
			return out
		}
		for name, c := range map[string]struct {
			p    client.JobListParams
			want []string
		}{
			"partner param, newest first": {client.JobListParams{PartnerParam: "u-1", Order: "newest"}, []string{"job_3", "job_1"}},
			"whole number":                {client.JobListParams{PartnerParam: "7"}, []string{"job_3"}},
			"kind":                        {client.JobListParams{Kind: "kyb"}, []string{"job_2"}},
			"last event":                  {client.JobListParams{Status: "a.done"}, []string{"job_2", "job_3"}},
			"no match":                    {client.JobListParams{PartnerParam: "u-"}, nil},
		} {
			if got := ids(&c.p); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", name, got, c.want)
			}
		}
		_, err := acme.ListJobs(ctx, &client.JobListParams{PartnerParam: strings.Repeat("x", 257)})
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !names(ae, "query.partner_param") {
			t.Fatalf("an over-long value: %v", err)
		}
	})
}

// Partner params PostgreSQL could not read as JSON (a NUL character in a
// string, invalid UTF-8) are refused naming the field: one such job would
// fail every partner-param search and erasure of its scope. An escaped
// backslash before "u0000" is text, and taken.
func TestPartnerParamsThatCannotBeSearchedAreRefused(t *testing.T) {
	servertest.EachStore(t, func(t *testing.T, start servertest.Starter) {
		h := start()
		h.Tenant("acme")
		acme := h.As("acme", "sandbox")
		for _, params := range []string{`{"user_id":"u-\u0000"}`, `{"a\u0000":1}`, `{"user_id":"` + "\xff" + `"}`} {
			_, err := acme.Publish(t.Context(), &client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`),
				Job: &client.JobRef{ID: "job_nul", PartnerParams: json.RawMessage(params)}})
			var ae *client.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !names(ae, "body.job.partner_params") {
				t.Fatalf("partner params %q: %v, want a 422 naming body.job.partner_params", params, err)
			}
		}
		h.Publish("acme", "sandbox", client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`),
			Job: &client.JobRef{ID: "job_text", PartnerParams: json.RawMessage(`{"note":"C:\\u0000"}`)}})
		js := servertest.Must(acme.ListJobs(t.Context(), &client.JobListParams{PartnerParam: `C:\u0000`}))(t)
		if len(js.Data) != 1 || js.Data[0].ID != "job_text" {
			t.Fatalf("the job whose param is the text C:\\u0000: %+v", js.Data)
		}
	})
}
