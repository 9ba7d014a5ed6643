package portal

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
)

// The tenant portal's pages. Each reads and changes through the API as the
// signed-in browser (st.api); the API scopes every call to the session's
// tenant and environment, so an id from elsewhere is simply not found.

// chartHours is the span of the delivery charts.
const chartHours = 24

type endpointRow struct {
	client.Endpoint
	Succeeded, Attempted int
	Spark                chart
}

type endpointsView struct {
	Rows      []endpointRow
	Chart     *chart
	Default   *client.Endpoint
	Next      string
	StatsNote string
}

// chartSince is the start of the first hourly bucket: the chart ends with
// the current, partial hour.
func (p *Portal) chartSince() time.Time {
	return p.now().UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
}

func (p *Portal) endpoints(w http.ResponseWriter, r *http.Request, st *state) {
	eps, err := st.api.ListEndpoints(r.Context(), &client.ListParams{Limit: 100, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := endpointsView{Next: eps.NextCursor}
	if def, err := st.api.GetDefaultCallback(r.Context()); err == nil {
		v.Default = def
	} else if ae := problem(err); ae == nil || ae.Status != http.StatusNotFound {
		p.fail(w, r, st, err)
		return
	}
	since := p.chartSince()
	var all chart
	if p.stats != nil {
		counts, err := p.stats.DeliveryCounts(r.Context(), st.sess.Scope(), since, time.Hour, chartHours)
		if err != nil {
			p.fail(w, r, st, err)
			return
		}
		all = hourly(counts, since, chartHours, "")
		v.Chart = &all
		for _, e := range eps.Data {
			c := hourly(counts, since, chartHours, e.ID)
			c.Compact = true
			s, f, _ := c.Total()
			v.Rows = append(v.Rows, endpointRow{Endpoint: e, Succeeded: s, Attempted: s + f, Spark: c})
		}
	} else {
		v.StatsNote = "This store keeps no delivery statistics."
		for _, e := range eps.Data {
			v.Rows = append(v.Rows, endpointRow{Endpoint: e})
		}
	}
	p.show(w, r, st, "endpoints.html", "endpoints", "Endpoints", v)
}

type endpointView struct {
	E            client.Endpoint
	Health       *client.EndpointHealth
	Chart        *chart
	Deliveries   []client.Delivery
	RecoverSince string
	RecoverForm  *form
}

func getEndpoint(st *state, r *http.Request) (*client.Endpoint, error) {
	return st.api.GetEndpoint(r.Context(), r.PathValue("id"))
}

func (p *Portal) endpoint(w http.ResponseWriter, r *http.Request, st *state) {
	p.showEndpoint(w, r, st, newForm())
}

func (p *Portal) showEndpoint(w http.ResponseWriter, r *http.Request, st *state, recoverForm *form) {
	e, err := getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := endpointView{E: *e, RecoverForm: recoverForm,
		RecoverSince: p.now().UTC().Add(-24 * time.Hour).Format(dateTimeLocal)}
	if recoverForm.V("since") != "" {
		v.RecoverSince = recoverForm.V("since")
	}
	ds, err := st.api.ListDeliveries(r.Context(), &client.DeliveryListParams{ListParams: client.ListParams{Limit: 10}, EndpointID: e.ID})
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Deliveries = ds.Data
	if v.Health, err = st.api.EndpointHealth(r.Context(), e.ID); err != nil {
		p.fail(w, r, st, err)
		return
	}
	if p.stats != nil {
		since := p.chartSince()
		counts, err := p.stats.DeliveryCounts(r.Context(), st.sess.Scope(), since, time.Hour, chartHours)
		if err != nil {
			p.fail(w, r, st, err)
			return
		}
		c := hourly(counts, since, chartHours, e.ID)
		v.Chart = &c
	}
	title := e.Name
	if title == "" {
		title = e.URL
	}
	p.show(w, r, st, "endpoint.html", "endpoints", title, v)
}

// shownOnce is a page that shows a secret the API will never show again.
type shownOnce struct {
	What, Secret, Note, Back, BackLabel string
}

// back redirects to the endpoint's page with a message.
func back(w http.ResponseWriter, r *http.Request, id, msg string) {
	http.Redirect(w, r, "/portal/endpoints/"+url.PathEscape(id)+"?done="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (p *Portal) endpointStatus(w http.ResponseWriter, r *http.Request, st *state) {
	id, status := r.PathValue("id"), r.PostFormValue("status")
	if _, err := st.api.UpdateEndpoint(r.Context(), id, &client.EndpointUpdate{Status: &status}); err != nil {
		p.fail(w, r, st, err)
		return
	}
	msg := "Paused: deliveries wait until you resume."
	if status == client.EndpointActive {
		msg = "Resumed: its pending deliveries go now."
	}
	back(w, r, id, msg)
}

func (p *Portal) rotateSecret(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	out, err := st.api.RotateEndpointSecret(r.Context(), id, &client.SecretRotation{})
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "secret.html", "endpoints", "Signing secret rotated", shownOnce{
		What: "new signing secret", Secret: out.Secret,
		Note: "Copy the new secret now: it is shown only once. Until " + out.PreviousSecretExpiresAt.UTC().Format("2006-01-02 15:04 UTC") +
			" callbacks are signed with both the old and the new secret, so you can switch your receiver without missing one.",
		Back: "/portal/endpoints/" + id, BackLabel: "Back to the endpoint",
	})
}

const dateTimeLocal = "2006-01-02T15:04"

// parseLocal reads a datetime-local field, taken as UTC (the pages show UTC).
func parseLocal(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse(dateTimeLocal, v)
}

func (p *Portal) recoverEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	f := newForm()
	f.Values["since"] = r.PostFormValue("since")
	since, err := parseLocal(f.V("since"))
	if err != nil {
		f.Errors["since"] = "give a date and time (UTC)"
		p.showEndpoint(w, r, st, f)
		return
	}
	n, err := st.api.RecoverEndpoint(r.Context(), id, &client.RecoverWindow{Since: since.UTC()})
	if err != nil {
		if ae := problem(err); ae != nil && ae.Status == http.StatusUnprocessableEntity {
			fs := ae.Fields()
			f.Errors["since"] = fs["since"] + fs[""]
			p.showEndpoint(w, r, st, f)
			return
		}
		p.fail(w, r, st, err)
		return
	}
	back(w, r, id, strconv.Itoa(n)+" failed deliveries queued again.")
}

func (p *Portal) confirmDelete(w http.ResponseWriter, r *http.Request, st *state) {
	e, err := getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "confirm_delete.html", "endpoints", "Delete endpoint", e)
}

func (p *Portal) deleteEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	if err := st.api.DeleteEndpoint(r.Context(), id); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/endpoints?done="+url.QueryEscape("Endpoint deleted; its pending deliveries were cancelled."), http.StatusSeeOther)
}

func (p *Portal) setDefaultCallback(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PostFormValue("endpoint_id")
	if _, err := st.api.SetDefaultCallback(r.Context(), id); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/endpoints?done="+url.QueryEscape("Default callback set."), http.StatusSeeOther)
}

// Send test.

type testView struct {
	Endpoints []client.Endpoint
	Types     []client.EventType
	Endpoint  string
	EventType string
	// Example is the type's example; Data the test's data, the example
	// until the user edits it; Description the type's.
	Example, Data, Description string
	// JobID and PartnerParams are the job the test names; no job when
	// JobID is empty.
	JobID, PartnerParams string
	Result               *client.TestSendResult
	Form                 *form
}

// sampleJob is the job the portal's previews and test sends name, so that
// a profile placing job identifiers and partner params (smile-id's
// SmileJobID and PartnerParams, incode's interviewId) shows them.
var sampleJob = client.JobRef{ID: "job_sample", Kind: "kyc", PartnerParams: json.RawMessage(`{"user_id": "user_sample", "job_id": "job_sample"}`)}

// readJob reads the test page's job fields, sampleJob's when the request
// has none (the page's first showing).
func (v *testView) readJob(values url.Values) {
	v.JobID, v.PartnerParams = sampleJob.ID, string(sampleJob.PartnerParams)
	if values.Has("job_id") {
		v.JobID, v.PartnerParams = strings.TrimSpace(values.Get("job_id")), values.Get("partner_params")
	}
}

// job is the test's job as the API takes it, or a form error.
func (v *testView) job() (*client.TestJob, string) {
	if v.JobID == "" {
		return nil, ""
	}
	j := &client.TestJob{ID: v.JobID, Kind: sampleJob.Kind}
	if pp := strings.TrimSpace(v.PartnerParams); pp != "" {
		if !json.Valid([]byte(pp)) {
			return nil, "partner params: not valid JSON"
		}
		j.PartnerParams = json.RawMessage(pp)
	}
	return j, ""
}

func newTestView(st *state, r *http.Request, endpoint, eventType string) (*testView, error) {
	eps, err := allEndpoints(st, r)
	if err != nil {
		return nil, err
	}
	types, err := catalog(st, r)
	if err != nil {
		return nil, err
	}
	if eventType == "" {
		eventType = "webhook.test"
	}
	v := &testView{Endpoints: eps, Types: types, Endpoint: endpoint, EventType: eventType, Form: newForm()}
	for _, t := range types {
		if t.Name == eventType {
			v.Example, v.Description = prettyJSON(t.Example), t.Description
		}
	}
	v.Data = v.Example
	return v, nil
}

func (p *Portal) testPage(w http.ResponseWriter, r *http.Request, st *state) {
	v, err := newTestView(st, r, r.URL.Query().Get("endpoint"), r.URL.Query().Get("event_type"))
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.readJob(r.URL.Query())
	p.show(w, r, st, "test.html", "test", "Send a test", v)
}

func (p *Portal) sendTest(w http.ResponseWriter, r *http.Request, st *state) {
	v, err := newTestView(st, r, r.PostFormValue("endpoint"), r.PostFormValue("event_type"))
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.readJob(r.PostForm)
	job, bad := v.job()
	// The data as edited, checked against the type's schema by the API
	// before anything is sent; none (a form without the field) is the
	// type's example.
	var data json.RawMessage
	if r.PostForm.Has("data") {
		v.Data = r.PostFormValue("data")
		data = json.RawMessage(strings.TrimSpace(v.Data))
	}
	status := http.StatusOK
	switch {
	case v.Endpoint == "":
		v.Form.Errors["endpoint"] = "choose an endpoint"
		status = http.StatusUnprocessableEntity
	case bad != "":
		v.Form.Errors["job"] = bad
		status = http.StatusUnprocessableEntity
	case len(data) > 0 && !json.Valid(data):
		v.Form.Errors["data"] = "not valid JSON: " + jsonProblem(data)
		status = http.StatusUnprocessableEntity
	default:
		res, err := st.api.TestEndpoint(r.Context(), v.Endpoint, &client.TestSend{EventType: v.EventType, Data: data, Job: job})
		ae := problem(err)
		switch {
		case err == nil:
			v.Result = res
		case ae != nil && ae.Status < 500:
			v.Form.Errors = formErrors(ae)
			if msg, ok := v.Form.Errors[""]; ok {
				delete(v.Form.Errors, "")
				v.Form.Errors["endpoint"] = msg
			}
			status = ae.Status
		default:
			p.fail(w, r, st, err)
			return
		}
	}
	pg := p.pageFor(st, r, "Send a test", v)
	pg.Nav = "test"
	p.render(w, r, status, "test.html", pg)
}

// Logs.

type logFilter struct {
	// Q is the search box: a delivery, event or job id, or a partner-param
	// value.
	Status, EventType, Endpoint, Q, Since, Until string
}

type logsView struct {
	F         logFilter
	Rows      []client.Delivery
	Endpoints []client.Endpoint
	Names     map[string]string
	Types     []client.EventType
	Next      string
	Error     string
	// Found says what the search matched; MoreJobs lists the jobs beyond
	// those shown.
	Found, MoreJobs string
}

// Filtered is whether the log is filtered or searched: an empty log then
// says so rather than that nothing was sent yet.
func (v logsView) Filtered() bool { return v.F != logFilter{} }

func (p *Portal) logs(w http.ResponseWriter, r *http.Request, st *state) {
	q := r.URL.Query()
	// job= is the search box's former name, in links made before it.
	f := logFilter{Status: q.Get("status"), EventType: q.Get("event_type"), Endpoint: q.Get("endpoint"),
		Q: strings.TrimSpace(cmp.Or(q.Get("q"), q.Get("job"))), Since: q.Get("since"), Until: q.Get("until")}
	v := logsView{F: f, Names: map[string]string{}}
	eps, err := allEndpoints(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Endpoints = eps
	for _, e := range eps {
		v.Names[e.ID] = e.Name
		if e.Name == "" {
			v.Names[e.ID] = e.URL
		}
	}
	types, err := catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Types = types
	params := &client.DeliveryListParams{ListParams: client.ListParams{Limit: 50, Cursor: q.Get("cursor")},
		Status: f.Status, EventType: f.EventType, EndpointID: f.Endpoint}
	v.Error = readWindow(f.Since, f.Until, &params.Since, &params.Until)
	if v.Error == "" {
		if f.Q != "" {
			err = p.searchLogs(r, st, &v, params)
		} else {
			var ds *client.List[client.Delivery]
			if ds, err = st.api.ListDeliveries(r.Context(), params); err == nil {
				v.Rows, v.Next = ds.Data, ds.NextCursor
			}
		}
		if ae := problem(err); ae != nil && ae.Status < 500 {
			v.Error, err = detail(ae), nil
		}
		if err != nil {
			p.fail(w, r, st, err)
			return
		}
	}
	p.show(w, r, st, "logs.html", "logs", "Logs", v)
}

// NextURL is the address of the next page, with the filters kept. It is
// the whole address, not a query spliced into the template's href: there
// html/template would escape the query's "=" and "&" as data.
func (v logsView) NextURL() string {
	q := url.Values{}
	for k, val := range map[string]string{"status": v.F.Status, "event_type": v.F.EventType, "endpoint": v.F.Endpoint,
		"q": v.F.Q, "since": v.F.Since, "until": v.F.Until, "cursor": v.Next} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return "/portal/logs?" + q.Encode()
}

// jobDeliveries is a job's deliveries, newest event first, that keep
// takes: the job's answer lists every event with its deliveries.
func jobDeliveries(j *client.JobDetail, keep func(client.Delivery) bool) []client.Delivery {
	var out []client.Delivery
	for i := len(j.Events) - 1; i >= 0; i-- {
		ev := j.Events[i]
		for _, d := range ev.Deliveries {
			row := client.Delivery{ID: d.ID, EventID: ev.ID, EventType: ev.Type, EndpointID: d.EndpointID, Status: d.Status,
				AttemptCount: d.AttemptCount, LastResponseStatus: d.LastResponseStatus, NextAttemptAt: d.NextAttemptAt, CreatedAt: ev.Timestamp}
			if keep(row) {
				out = append(out, row)
			}
		}
	}
	return out
}

type deliveryView struct {
	D        client.Delivery
	Event    *client.Event
	Endpoint *client.Endpoint
	Attempts []client.Attempt // newest first
}

func (p *Portal) delivery(w http.ResponseWriter, r *http.Request, st *state) {
	d, err := st.api.GetDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := deliveryView{D: *d}
	for i := len(d.Attempts) - 1; i >= 0; i-- {
		v.Attempts = append(v.Attempts, d.Attempts[i])
	}
	// The event may be gone (retention) and the endpoint deleted: the page
	// says so.
	if ev, err := st.api.GetEvent(r.Context(), d.EventID); err == nil {
		v.Event = ev
	}
	if e, err := st.api.GetEndpoint(r.Context(), d.EndpointID); err == nil {
		v.Endpoint = e
	}
	p.show(w, r, st, "delivery.html", "logs", "Delivery "+d.ID, v)
}

func (p *Portal) resend(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	if _, err := st.api.RetryDelivery(r.Context(), id); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/logs/"+url.PathEscape(id)+"?done="+url.QueryEscape("Queued to be sent again now, with the same webhook-id."), http.StatusSeeOther)
}

// API keys.

// keyRow is an API key as the list shows it.
type keyRow struct {
	client.APIKey
	// Usable: the key still authenticates, so it may be rotated or revoked.
	Usable bool
}

func (p *Portal) keys(w http.ResponseWriter, r *http.Request, st *state) {
	ks, err := st.api.ListAPIKeys(r.Context())
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	now := p.now()
	rows := make([]keyRow, len(ks.Data))
	for i, k := range ks.Data {
		rule := domain.APIKey{ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
		rows[i] = keyRow{APIKey: k, Usable: rule.Usable(now)}
	}
	p.show(w, r, st, "keys.html", "keys", "API keys", struct{ Keys []keyRow }{rows})
}

func (p *Portal) createKey(w http.ResponseWriter, r *http.Request, st *state) {
	k, err := st.api.CreateAPIKey(r.Context())
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "secret.html", "keys", "API key created", shownOnce{
		What: "API key", Secret: k.Key,
		Note: "Copy the key now: it is shown only once. Send it as Authorization: Bearer <key>; it works in " + string(st.sess.Environment) + " only.",
		Back: "/portal/keys", BackLabel: "Back to the API keys",
	})
}

func (p *Portal) rotateKey(w http.ResponseWriter, r *http.Request, st *state) {
	k, err := st.api.RotateAPIKey(r.Context(), r.PathValue("id"), &client.Rotation{})
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "secret.html", "keys", "API key rotated", shownOnce{
		What: "new API key", Secret: k.Key,
		Note: "Copy the new key now: it is shown only once. The old key keeps working for 24 hours.",
		Back: "/portal/keys", BackLabel: "Back to the API keys",
	})
}

func (p *Portal) revokeKey(w http.ResponseWriter, r *http.Request, st *state) {
	if err := st.api.RevokeAPIKey(r.Context(), r.PathValue("id")); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/keys?done="+url.QueryEscape("Key revoked."), http.StatusSeeOther)
}

// How to verify.

func (p *Portal) verify(w http.ResponseWriter, r *http.Request, st *state) {
	eps, err := allEndpoints(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "verify.html", "verify", "How to verify", struct {
		Tenant, Environment, Base string
		Endpoints                 []client.Endpoint
	}{st.sess.TenantID, string(st.sess.Environment), origin(r), eps})
}

// allEndpoints lists the scope's endpoints for a menu: the first 500.
func allEndpoints(st *state, r *http.Request) ([]client.Endpoint, error) {
	eps, err := st.api.ListEndpoints(r.Context(), &client.ListParams{Limit: 500})
	if err != nil {
		return nil, err
	}
	return eps.Data, nil
}
