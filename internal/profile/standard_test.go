package profile_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/profile"
	"github.com/heraldhq/herald/internal/server/servertest"
)

// The standard profile is the envelope the dispatcher sends today: the same
// bytes as a real delivery. The events are published raw, so that the data
// is stored with its <, > and & as sent; the partner params have none,
// because the dispatcher still re-encodes them (see TestPartnerParamsArriveByteForByte).
func TestStandardRendersTheBytesTheDispatcherDelivers(t *testing.T) {
	h := servertest.Start(t)
	rc := servertest.NewReceiver(t)
	h.Tenant("acme")
	h.Endpoint("acme", "production", client.EndpointCreate{URL: rc.URL})
	std := mustGet(t, "standard")
	for _, ev := range []struct {
		typ, data string
		final     bool
		job       *profile.Job
	}{
		{"check.approved", `{"note": "a<b>&c", "n": 1.50, "u": "café ☕ \u2028", "esc": "\u0041"}`, true,
			&profile.Job{ID: "job_<1>&", Kind: "kyc", PartnerParams: []byte(`{ "user_id": "u-123", "n": 1.50 }`)}},
		{"check.started", `{}`, false, nil},
		{"check.updated", `{"nested": {"a": [1, 2, {"b": null}]}}`, false, &profile.Job{ID: "job_2"}},
	} {
		req := map[string]any{"type": ev.typ, "data": json.RawMessage(ev.data), "final": ev.final}
		if ev.job != nil {
			req["job"] = map[string]any{"id": ev.job.ID, "kind": ev.job.Kind, "partner_params": ev.job.PartnerParams}
		}
		raw, _ := json.Marshal(req)
		raw = bytes.ReplaceAll(bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte(`\u003c`), []byte("<")), []byte(`\u003e`), []byte(">")), []byte(`\u0026`), []byte("&"))
		var p struct{ ID string }
		h.Must(202, servertest.Call{Method: "POST", Path: "/v1/events", Tenant: "acme", Env: "production", Body: raw}).JSON(t, &p)
		got := rc.Next(10 * time.Second)
		var sent struct{ Timestamp string }
		if err := json.Unmarshal(got.Body, &sent); err != nil {
			t.Fatal(err)
		}
		// Herald stores data and partner params compacted.
		in := &profile.Input{ID: p.ID, Type: ev.typ, Timestamp: sent.Timestamp, Environment: "production",
			TenantID: "acme", Final: ev.final, Data: compact(t, []byte(ev.data))}
		if ev.job != nil {
			in.Job = &profile.Job{ID: ev.job.ID, Kind: ev.job.Kind}
			if ev.job.PartnerParams != nil {
				in.Job.PartnerParams = compact(t, ev.job.PartnerParams)
			}
		}
		if !bytes.Contains(got.Body, []byte(`"a<b>&c"`)) && ev.final {
			t.Fatalf("the data was not sent as published: %s", got.Body)
		}
		if body := render(t, std, in, nil); !bytes.Equal(body, got.Body) {
			t.Errorf("standard\n got %s\nsent %s", body, got.Body)
		}
	}
}

// Fixture P: partner params with <, >, &, unicode and odd whitespace, as the
// platform sent them, in every body that carries them; never in IDWise's
// unless asked for.
func TestPartnerParamsArriveByteForByte(t *testing.T) {
	const pp = "{ \"ref\" : \"a<b>&c\",\n  \"note\": \"café ☕\",  \"n\": 1.50 }"
	in := &profile.Input{ID: "evt_pp", Type: "verification.completed", Timestamp: "2026-11-22T10:14:58Z",
		Environment: "production", TenantID: "tnt_acme", Job: &profile.Job{ID: "job_pp", PartnerParams: []byte(pp)},
		Data: []byte(`{"status":"completed"}`)}
	for _, c := range []struct {
		profile, opts, want string
	}{
		{"standard", `{}`, `"job":{"id":"job_pp","partner_params":` + pp + `}`},
		{"smile-id", `{"partner_id":"085","api_key":"k"}`, `"PartnerParams":` + pp + `}`},
		{"idwise", `{"include_partner_params":true}`, `"partnerParams":` + pp + `}`},
	} {
		if body := render(t, mustGet(t, c.profile), in, opts(c.opts)); !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %s\nlacks %s", c.profile, body, c.want)
		}
	}
	for _, name := range []string{"idwise", "incode", "smart-kyc", "identomat"} {
		o := genOpts[name][0]
		if body := render(t, mustGet(t, name), in, o); strings.Contains(string(body), `"ref"`) {
			t.Errorf("%s carries the partner params: %s", name, body)
		}
	}
}

// Herald's own strings in the standard envelope keep encoding/json's bytes.
func TestStandardEscapesItsStringsAsEncodingJSONDoes(t *testing.T) {
	for _, s := range []string{"plain", `q"b\s`, "<>&", "\b\f\n\r\t\x00\x1f", "café ☕", "\u2028\u2029", "bad\xffutf8", ""} {
		in := &profile.Input{ID: s, Type: s, Timestamp: s, Environment: s, TenantID: s, Job: &profile.Job{ID: s, Kind: s}}
		want, _ := json.Marshal(map[string]any{"id": s})
		body := render(t, mustGet(t, "standard"), in, nil)
		if !bytes.HasPrefix(body, want[:len(want)-1]) {
			t.Errorf("%q: %s, encoding/json %s", s, body, want)
		}
	}
}
