package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// The tenant portal's pages. Each reads and changes through the API as the
// signed-in browser (p.as); the API scopes every call to the session's
// tenant and environment, so an id from elsewhere is simply not found.

type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// chartHours is the span of the delivery charts.
const chartHours = 24

type endpointRow struct {
	domain.Endpoint
	Succeeded, Attempted int
	Spark                chart
}

type endpointsView struct {
	Rows      []endpointRow
	Chart     *chart
	Default   *domain.Endpoint
	Next      string
	StatsNote string
}

// chartSince is the start of the first hourly bucket: the chart ends with
// the current, partial hour.
func (p *Portal) chartSince() time.Time {
	return p.now().UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
}

func (p *Portal) endpoints(w http.ResponseWriter, r *http.Request, st *state) {
	q := url.Values{"limit": {"100"}}
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Set("cursor", c)
	}
	var eps list[domain.Endpoint]
	if err := p.as(st, r, http.MethodGet, "/v1/endpoints?"+q.Encode(), nil, &eps); err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := endpointsView{Next: eps.NextCursor}
	var def domain.Endpoint
	if err := p.as(st, r, http.MethodGet, "/v1/default-callback", nil, &def); err == nil {
		v.Default = &def
	} else if ae := (*apiError)(nil); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
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
	E            domain.Endpoint
	Chart        *chart
	Deliveries   []domain.Delivery
	RecoverSince string
	RecoverForm  *form
}

func (p *Portal) getEndpoint(st *state, r *http.Request) (*domain.Endpoint, error) {
	var e domain.Endpoint
	if err := p.as(st, r, http.MethodGet, "/v1/endpoints/"+url.PathEscape(r.PathValue("id")), nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

func (p *Portal) endpoint(w http.ResponseWriter, r *http.Request, st *state) {
	p.showEndpoint(w, r, st, newForm())
}

func (p *Portal) showEndpoint(w http.ResponseWriter, r *http.Request, st *state, recoverForm *form) {
	e, err := p.getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := endpointView{E: *e, RecoverForm: recoverForm,
		RecoverSince: p.now().UTC().Add(-24 * time.Hour).Format(dateTimeLocal)}
	if recoverForm.V("since") != "" {
		v.RecoverSince = recoverForm.V("since")
	}
	var ds list[domain.Delivery]
	if err := p.as(st, r, http.MethodGet, "/v1/deliveries?limit=10&endpoint_id="+url.QueryEscape(e.ID), nil, &ds); err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Deliveries = ds.Data
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

// endpointFormView is the create and edit form.
type endpointFormView struct {
	Form       *form
	Types      []domain.EventType
	Chosen     []string
	Editing    *domain.Endpoint
	RetryModes []string
}

func (p *Portal) catalog(st *state, r *http.Request) ([]domain.EventType, error) {
	var ts list[domain.EventType]
	if err := p.as(st, r, http.MethodGet, "/v1/event-types", nil, &ts); err != nil {
		return nil, err
	}
	return ts.Data, nil
}

func (p *Portal) showEndpointForm(w http.ResponseWriter, r *http.Request, st *state, status int, f *form, chosen []string, editing *domain.Endpoint) {
	types, err := p.catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	title := "New endpoint"
	if editing != nil {
		title = "Edit endpoint"
	}
	pg := p.pageFor(st, r, title, endpointFormView{Form: f, Types: types, Chosen: chosen, Editing: editing,
		RetryModes: []string{"default", "standard-webhooks", "once", "none", "custom"}})
	pg.Nav = "endpoints"
	p.render(w, r, status, "endpoint_form.html", pg)
}

func (p *Portal) newEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	f := newForm()
	f.Values["retry_preset"], f.Values["payload_mode"], f.Values["success"], f.Values["timeout_ms"] = "default", "envelope", "2xx", "15000"
	f.Values["auth_type"] = "none"
	p.showEndpointForm(w, r, st, http.StatusOK, f, nil, nil)
}

// formFromEndpoint fills the edit form with an endpoint's settings.
func formFromEndpoint(e *domain.Endpoint) (*form, []string) {
	f := newForm()
	f.Values["url"], f.Values["name"] = e.URL, e.Name
	f.Values["headers"] = formatHeaders(e.Headers)
	f.Values["headers_orig"] = f.Values["headers"]
	f.Values["retry_preset"] = e.RetryPolicy.Preset
	if len(e.RetryPolicy.Delays) > 0 {
		f.Values["retry_preset"], f.Values["retry_delays"] = "custom", strings.Join(e.RetryPolicy.Delays, ", ")
	}
	if f.Values["retry_preset"] == "" {
		f.Values["retry_preset"] = "default"
	}
	f.Values["payload_mode"], f.Values["success"] = e.PayloadMode, e.Success
	f.Values["timeout_ms"] = strconv.Itoa(e.TimeoutMS)
	f.Values["auth_type"] = "keep"
	var chosen, extra []string
	for _, t := range e.EventTypes {
		if strings.Contains(t, "*") {
			extra = append(extra, t)
		} else {
			chosen = append(chosen, t)
		}
	}
	f.Values["event_filters"] = strings.Join(extra, ", ")
	return f, chosen
}

func (p *Portal) editEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	e, err := p.getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	f, chosen := formFromEndpoint(e)
	p.showEndpointForm(w, r, st, http.StatusOK, f, chosen, e)
}

func formatHeaders(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ": " + h[k] + "\n")
	}
	return b.String()
}

// endpointRequest reads the form into the API's endpoint body. Only what
// the browser cannot express is checked here (the shape of the header
// lines, a number); the rules are the API's.
func endpointRequest(r *http.Request, editing bool) (map[string]any, *form, []string) {
	f := newForm()
	for _, k := range []string{"url", "name", "headers", "headers_orig", "retry_preset", "retry_delays", "payload_mode", "success",
		"timeout_ms", "event_filters", "auth_type", "auth_username", "auth_header_name", "default_callback"} {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	chosen := r.PostForm["event_types"]
	body := map[string]any{"url": f.V("url"), "name": f.V("name")}
	types := append([]string{}, chosen...)
	for _, t := range strings.FieldsFunc(f.V("event_filters"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' }) {
		types = append(types, t)
	}
	body["event_types"] = types
	if !editing || f.V("headers") != f.V("headers_orig") {
		h := map[string]string{}
		for i, line := range strings.Split(f.V("headers"), "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(k) == "" {
				f.Errors["headers"] = "line " + strconv.Itoa(i+1) + " is not Name: value"
				continue
			}
			h[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		body["headers"] = h
	}
	switch preset := f.V("retry_preset"); preset {
	case "custom":
		var delays []string
		for _, d := range strings.FieldsFunc(f.V("retry_delays"), func(c rune) bool { return c == ',' || c == ' ' }) {
			delays = append(delays, d)
		}
		if len(delays) == 0 {
			f.Errors["retry_policy"] = "give the waits before each retry, such as 5s, 10m, 2h"
		}
		body["retry_policy"] = map[string]any{"delays": delays}
	case "":
	default:
		body["retry_policy"] = map[string]any{"preset": preset}
	}
	if v := f.V("payload_mode"); v != "" {
		body["payload_mode"] = v
	}
	if v := f.V("success"); v != "" {
		body["success"] = v
	}
	if v := f.V("timeout_ms"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.Errors["timeout_ms"] = "must be a whole number of milliseconds"
		}
		body["timeout_ms"] = n
	}
	switch f.V("auth_type") {
	case "keep", "":
	case "none":
		if editing {
			body["auth"] = map[string]any{"type": "none"}
		}
	case "basic":
		body["auth"] = map[string]any{"type": "basic", "username": f.V("auth_username"), "password": r.PostFormValue("auth_password")}
	case "bearer":
		body["auth"] = map[string]any{"type": "bearer", "token": r.PostFormValue("auth_token")}
	case "header":
		body["auth"] = map[string]any{"type": "header", "name": f.V("auth_header_name"), "value": r.PostFormValue("auth_header_value")}
	}
	if !editing && f.V("default_callback") == "on" {
		body["default_callback"] = true
	}
	return body, f, chosen
}

// shownOnce is a page that shows a secret the API will never show again.
type shownOnce struct {
	What, Secret, Note, Back, BackLabel string
}

func (p *Portal) createEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	body, f, chosen := endpointRequest(r, false)
	if len(f.Errors) > 0 {
		p.showEndpointForm(w, r, st, http.StatusUnprocessableEntity, f, chosen, nil)
		return
	}
	var created struct {
		domain.Endpoint
		Secret string `json:"secret"`
	}
	if err := p.as(st, r, http.MethodPost, "/v1/endpoints", body, &created); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests {
			f.Errors = ae.fields()
			p.showEndpointForm(w, r, st, ae.Status, f, chosen, nil)
			return
		}
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "secret.html", "endpoints", "Endpoint created", shownOnce{
		What: "signing secret", Secret: created.Secret,
		Note: "Copy the signing secret now: it is shown only once. Your receiver uses it to verify that callbacks come from us.",
		Back: "/portal/endpoints/" + created.ID, BackLabel: "Go to the endpoint",
	})
}

func (p *Portal) updateEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	e, err := p.getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	body, f, chosen := endpointRequest(r, true)
	if len(f.Errors) == 0 {
		err = p.as(st, r, http.MethodPatch, "/v1/endpoints/"+url.PathEscape(e.ID), body, nil)
		if err == nil {
			http.Redirect(w, r, "/portal/endpoints/"+url.PathEscape(e.ID)+"?done=Saved.", http.StatusSeeOther)
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status >= 500 || ae.Status == http.StatusNotFound {
			p.fail(w, r, st, err)
			return
		}
		f.Errors = ae.fields()
	}
	p.showEndpointForm(w, r, st, http.StatusUnprocessableEntity, f, chosen, e)
}

// back redirects to the endpoint's page with a message.
func back(w http.ResponseWriter, r *http.Request, id, msg string) {
	http.Redirect(w, r, "/portal/endpoints/"+url.PathEscape(id)+"?done="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (p *Portal) endpointStatus(w http.ResponseWriter, r *http.Request, st *state) {
	id, status := r.PathValue("id"), r.PostFormValue("status")
	if err := p.as(st, r, http.MethodPatch, "/v1/endpoints/"+url.PathEscape(id), map[string]any{"status": status}, nil); err != nil {
		p.fail(w, r, st, err)
		return
	}
	msg := "Paused: deliveries wait until you resume."
	if status == domain.EndpointActive {
		msg = "Resumed."
	}
	back(w, r, id, msg)
}

func (p *Portal) rotateSecret(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	var out struct {
		Secret    string    `json:"secret"`
		ExpiresAt time.Time `json:"previous_secret_expires_at"`
	}
	if err := p.as(st, r, http.MethodPost, "/v1/endpoints/"+url.PathEscape(id)+"/secret/rotate", map[string]any{}, &out); err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "secret.html", "endpoints", "Signing secret rotated", shownOnce{
		What: "new signing secret", Secret: out.Secret,
		Note: "Copy the new secret now: it is shown only once. Until " + out.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC") +
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
	var out struct {
		Recovered int `json:"recovered"`
	}
	if err := p.as(st, r, http.MethodPost, "/v1/endpoints/"+url.PathEscape(id)+"/recover", map[string]any{"since": since.UTC()}, &out); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
			f.Errors["since"] = ae.fields()["since"] + ae.fields()[""]
			p.showEndpoint(w, r, st, f)
			return
		}
		p.fail(w, r, st, err)
		return
	}
	back(w, r, id, strconv.Itoa(out.Recovered)+" failed deliveries queued again.")
}

func (p *Portal) confirmDelete(w http.ResponseWriter, r *http.Request, st *state) {
	e, err := p.getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "confirm_delete.html", "endpoints", "Delete endpoint", e)
}

func (p *Portal) deleteEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	if err := p.as(st, r, http.MethodDelete, "/v1/endpoints/"+url.PathEscape(id), nil, nil); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/endpoints?done="+url.QueryEscape("Endpoint deleted; its pending deliveries were cancelled."), http.StatusSeeOther)
}

func (p *Portal) setDefaultCallback(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PostFormValue("endpoint_id")
	if err := p.as(st, r, http.MethodPut, "/v1/default-callback", map[string]any{"endpoint_id": id}, nil); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/endpoints?done="+url.QueryEscape("Default callback set."), http.StatusSeeOther)
}

// Send test.

type testResult struct {
	EventID        string `json:"event_id"`
	DeliveryID     string `json:"delivery_id"`
	Status         string `json:"status"`
	ResponseStatus int    `json:"response_status"`
	LatencyMS      int64  `json:"latency_ms"`
	ResponseBody   string `json:"response_body"`
	ErrorClass     string `json:"error_class"`
	Error          string `json:"error"`
}

type testView struct {
	Endpoints []domain.Endpoint
	Types     []domain.EventType
	Endpoint  string
	EventType string
	Example   string
	Result    *testResult
	Form      *form
}

func (p *Portal) testView(st *state, r *http.Request, endpoint, eventType string) (*testView, error) {
	var eps list[domain.Endpoint]
	if err := p.as(st, r, http.MethodGet, "/v1/endpoints?limit=500", nil, &eps); err != nil {
		return nil, err
	}
	types, err := p.catalog(st, r)
	if err != nil {
		return nil, err
	}
	if eventType == "" {
		eventType = "webhook.test"
	}
	v := &testView{Endpoints: eps.Data, Types: types, Endpoint: endpoint, EventType: eventType, Form: newForm()}
	for _, t := range types {
		if t.Name == eventType {
			v.Example = prettyJSON(t.Example)
		}
	}
	return v, nil
}

func (p *Portal) testPage(w http.ResponseWriter, r *http.Request, st *state) {
	v, err := p.testView(st, r, r.URL.Query().Get("endpoint"), r.URL.Query().Get("event_type"))
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "test.html", "test", "Send a test", v)
}

func (p *Portal) sendTest(w http.ResponseWriter, r *http.Request, st *state) {
	v, err := p.testView(st, r, r.PostFormValue("endpoint"), r.PostFormValue("event_type"))
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	status := http.StatusOK
	if v.Endpoint == "" {
		v.Form.Errors["endpoint"] = "choose an endpoint"
		status = http.StatusUnprocessableEntity
	} else {
		var res testResult
		err := p.as(st, r, http.MethodPost, "/v1/endpoints/"+url.PathEscape(v.Endpoint)+"/test", map[string]any{"event_type": v.EventType}, &res)
		var ae *apiError
		switch {
		case err == nil:
			v.Result = &res
		case errors.As(err, &ae) && ae.Status < 500:
			v.Form.Errors = ae.fields()
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
	Status, EventType, Endpoint, Job, Since, Until string
}

type logsView struct {
	F         logFilter
	Rows      []domain.Delivery
	Endpoints []domain.Endpoint
	Names     map[string]string
	Types     []domain.EventType
	Next      string
	Error     string
}

func (p *Portal) logs(w http.ResponseWriter, r *http.Request, st *state) {
	q := r.URL.Query()
	f := logFilter{Status: q.Get("status"), EventType: q.Get("event_type"), Endpoint: q.Get("endpoint"), Job: strings.TrimSpace(q.Get("job")),
		Since: q.Get("since"), Until: q.Get("until")}
	v := logsView{F: f, Names: map[string]string{}}
	var eps list[domain.Endpoint]
	if err := p.as(st, r, http.MethodGet, "/v1/endpoints?limit=500", nil, &eps); err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Endpoints = eps.Data
	for _, e := range eps.Data {
		v.Names[e.ID] = e.Name
		if e.Name == "" {
			v.Names[e.ID] = e.URL
		}
	}
	types, err := p.catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Types = types
	api := url.Values{"limit": {"50"}}
	for k, val := range map[string]string{"status": f.Status, "event_type": f.EventType, "endpoint_id": f.Endpoint, "cursor": q.Get("cursor")} {
		if val != "" {
			api.Set(k, val)
		}
	}
	var since, until time.Time
	for _, tf := range []struct {
		raw   string
		name  string
		field *time.Time
	}{{f.Since, "since", &since}, {f.Until, "until", &until}} {
		if tf.raw == "" {
			continue
		}
		t, err := parseLocal(tf.raw)
		if err != nil {
			v.Error = tf.name + ": give a date and time (UTC)"
			continue
		}
		*tf.field = t
		api.Set(tf.name, t.UTC().Format(time.RFC3339))
	}
	if v.Error == "" {
		if f.Job != "" {
			rows, err := p.jobDeliveries(st, r, f, since, until)
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
					p.fail(w, r, st, err)
					return
				}
				v.Error = "No job " + f.Job + " in this environment."
			}
			v.Rows = rows
		} else {
			var ds list[domain.Delivery]
			if err := p.as(st, r, http.MethodGet, "/v1/deliveries?"+api.Encode(), nil, &ds); err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.Status >= 500 {
					p.fail(w, r, st, err)
					return
				}
				v.Error = ae.Detail
			}
			v.Rows, v.Next = ds.Data, ds.NextCursor
		}
	}
	p.show(w, r, st, "logs.html", "logs", "Logs", v)
}

// NextQuery is the address of the next page, with the filters kept.
func (v logsView) NextQuery() string {
	q := url.Values{}
	for k, val := range map[string]string{"status": v.F.Status, "event_type": v.F.EventType, "endpoint": v.F.Endpoint,
		"since": v.F.Since, "until": v.F.Until, "cursor": v.Next} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return q.Encode()
}

type jobView struct {
	domain.JobRecord
	Events []struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Timestamp  time.Time       `json:"timestamp"`
		Final      bool            `json:"final"`
		Data       json.RawMessage `json:"data"`
		Deliveries []struct {
			ID           string     `json:"id"`
			EndpointID   string     `json:"endpoint_id"`
			Status       string     `json:"status"`
			AttemptCount int        `json:"attempt_count"`
			LastStatus   int        `json:"last_response_status"`
			NextAttempt  *time.Time `json:"next_attempt_at"`
		} `json:"deliveries"`
	} `json:"events"`
}

// jobDeliveries is the log filtered by job: the job's answer lists every
// event with its deliveries, and the other filters apply to those.
func (p *Portal) jobDeliveries(st *state, r *http.Request, f logFilter, since, until time.Time) ([]domain.Delivery, error) {
	var j jobView
	if err := p.as(st, r, http.MethodGet, "/v1/jobs/"+url.PathEscape(f.Job), nil, &j); err != nil {
		return nil, err
	}
	var out []domain.Delivery
	for i := len(j.Events) - 1; i >= 0; i-- {
		ev := j.Events[i]
		if (f.EventType != "" && ev.Type != f.EventType) || (!since.IsZero() && ev.Timestamp.Before(since)) || (!until.IsZero() && !ev.Timestamp.Before(until)) {
			continue
		}
		for _, d := range ev.Deliveries {
			if (f.Status != "" && d.Status != f.Status) || (f.Endpoint != "" && d.EndpointID != f.Endpoint) {
				continue
			}
			out = append(out, domain.Delivery{ID: d.ID, EventID: ev.ID, EventType: ev.Type, EndpointID: d.EndpointID, Status: d.Status,
				Attempts: d.AttemptCount, LastStatus: d.LastStatus, NextAttemptAt: d.NextAttempt, CreatedAt: ev.Timestamp})
		}
	}
	return out, nil
}

type deliveryView struct {
	D        domain.Delivery
	Event    *domain.Event
	Endpoint *domain.Endpoint
	Attempts []domain.Attempt // newest first
}

func (p *Portal) delivery(w http.ResponseWriter, r *http.Request, st *state) {
	var d domain.Delivery
	if err := p.as(st, r, http.MethodGet, "/v1/deliveries/"+url.PathEscape(r.PathValue("id")), nil, &d); err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := deliveryView{D: d}
	for i := len(d.AttemptLog) - 1; i >= 0; i-- {
		v.Attempts = append(v.Attempts, d.AttemptLog[i])
	}
	var ev domain.Event
	if err := p.as(st, r, http.MethodGet, "/v1/events/"+url.PathEscape(d.EventID), nil, &ev); err == nil {
		v.Event = &ev
	}
	var e domain.Endpoint
	if err := p.as(st, r, http.MethodGet, "/v1/endpoints/"+url.PathEscape(d.EndpointID), nil, &e); err == nil {
		v.Endpoint = &e
	}
	p.show(w, r, st, "delivery.html", "logs", "Delivery "+d.ID, v)
}

func (p *Portal) resend(w http.ResponseWriter, r *http.Request, st *state) {
	id := r.PathValue("id")
	if err := p.as(st, r, http.MethodPost, "/v1/deliveries/"+url.PathEscape(id)+"/retry", nil, nil); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/logs/"+url.PathEscape(id)+"?done="+url.QueryEscape("Queued to be sent again now, with the same webhook-id."), http.StatusSeeOther)
}

// Jobs.

type jobsView struct {
	ID       string
	Job      *jobView
	NotFound bool
}

func (p *Portal) jobs(w http.ResponseWriter, r *http.Request, st *state) {
	v := jobsView{ID: strings.TrimSpace(r.URL.Query().Get("id"))}
	if v.ID != "" {
		var j jobView
		err := p.as(st, r, http.MethodGet, "/v1/jobs/"+url.PathEscape(v.ID), nil, &j)
		var ae *apiError
		switch {
		case err == nil:
			v.Job = &j
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			v.NotFound = true
		default:
			p.fail(w, r, st, err)
			return
		}
	}
	p.show(w, r, st, "jobs.html", "jobs", "Jobs", v)
}

// API keys.

func (p *Portal) keys(w http.ResponseWriter, r *http.Request, st *state) {
	var ks list[domain.APIKey]
	if err := p.as(st, r, http.MethodGet, "/v1/api-keys", nil, &ks); err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "keys.html", "keys", "API keys", struct {
		Keys []domain.APIKey
		Now  time.Time
	}{ks.Data, p.now()})
}

type newKey struct {
	Key string `json:"key"`
}

func (p *Portal) createKey(w http.ResponseWriter, r *http.Request, st *state) {
	var k newKey
	if err := p.as(st, r, http.MethodPost, "/v1/api-keys", nil, &k); err != nil {
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
	var k newKey
	if err := p.as(st, r, http.MethodPost, "/v1/api-keys/"+url.PathEscape(r.PathValue("id"))+"/rotate", map[string]any{}, &k); err != nil {
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
	if err := p.as(st, r, http.MethodDelete, "/v1/api-keys/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/portal/keys?done="+url.QueryEscape("Key revoked."), http.StatusSeeOther)
}

// How to verify.

func (p *Portal) verify(w http.ResponseWriter, r *http.Request, st *state) {
	var eps list[domain.Endpoint]
	if err := p.as(st, r, http.MethodGet, "/v1/endpoints?limit=500", nil, &eps); err != nil {
		p.fail(w, r, st, err)
		return
	}
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	p.show(w, r, st, "verify.html", "verify", "How to verify", struct {
		Tenant, Environment, Base string
		Endpoints                 []domain.Endpoint
	}{st.sess.TenantID, string(st.sess.Environment), scheme + "://" + r.Host, eps.Data})
}
