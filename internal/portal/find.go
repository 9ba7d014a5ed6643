package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/domain"
)

// Finding things: the log's search box, the job list and the event-type
// catalog a tenant's developers read.

// maxSearch bounds the search box, as the API bounds a partner-param value.
const maxSearch = 256

// maxSearchJobs bounds the jobs whose deliveries a partner-param search
// shows: each is one more read of the job, and the job list has the rest.
const maxSearchJobs = 20

// notFound is whether the API answered that the thing asked for is not
// there (or cannot be, by its form).
func notFound(err error) bool {
	ae := problem(err)
	return ae != nil && (ae.Status == http.StatusNotFound || ae.Status == http.StatusUnprocessableEntity)
}

// keeps is whether a delivery passes the log's filters other than the search.
func (f logFilter) keeps(d client.Delivery, since, until time.Time) bool {
	return (f.Status == "" || d.Status == f.Status) && (f.EventType == "" || d.EventType == f.EventType) &&
		(f.Endpoint == "" || d.EndpointID == f.Endpoint) &&
		(since.IsZero() || !d.CreatedAt.Before(since)) && (until.IsZero() || d.CreatedAt.Before(until))
}

// searchLogs fills the log with what the search box names: a delivery, an
// event (by their id prefixes), a job, or else the jobs whose partner
// params hold the value. The other filters apply to what it finds.
func (p *Portal) searchLogs(r *http.Request, st *state, v *logsView, params *client.DeliveryListParams) error {
	q, ctx := v.F.Q, r.Context()
	if len(q) > maxSearch {
		v.Error = fmt.Sprintf("search: at most %d characters", maxSearch)
		return nil
	}
	keep := func(d client.Delivery) bool { return v.F.keeps(d, params.Since, params.Until) }
	switch {
	case strings.HasPrefix(q, domain.PrefixDelivery+"_"):
		d, err := st.api.GetDelivery(ctx, q)
		if notFound(err) {
			v.Error = "No delivery " + q + " in this environment."
			return nil
		}
		if err != nil {
			return err
		}
		v.Found = "Delivery " + q
		if keep(*d) {
			v.Rows = []client.Delivery{*d}
		}
		return nil
	case strings.HasPrefix(q, domain.PrefixEvent+"_"):
		byEvent := *params
		byEvent.EventID = q
		ds, err := st.api.ListDeliveries(ctx, &byEvent)
		if err != nil {
			return err
		}
		v.Found = "Deliveries of event " + q
		v.Rows, v.Next = ds.Data, ds.NextCursor
		return nil
	}
	j, err := st.api.GetJob(ctx, q)
	if err == nil {
		v.Found = "Deliveries of job " + q
		v.Rows = jobDeliveries(j, keep)
		return nil
	}
	if !notFound(err) {
		return err
	}
	js, err := st.api.ListJobs(ctx, &client.JobListParams{ListParams: client.ListParams{Limit: maxSearchJobs}, PartnerParam: q, Order: "newest"})
	if err != nil {
		return err
	}
	if len(js.Data) == 0 {
		v.Error = "Nothing is called " + q + ": no delivery, event or job has that id, and no job's partner params hold that value."
		return nil
	}
	ids := make([]string, len(js.Data))
	for i, job := range js.Data {
		ids[i] = job.ID
		jd, err := st.api.GetJob(ctx, job.ID)
		if err != nil {
			return err
		}
		v.Rows = append(v.Rows, jobDeliveries(jd, keep)...)
	}
	v.Found = fmt.Sprintf("Deliveries of the jobs whose partner params hold %q: %s", q, strings.Join(ids, ", "))
	if js.NextCursor != "" {
		v.MoreJobs = "/portal/jobs?" + url.Values{"partner_param": {q}}.Encode()
	}
	return nil
}

// Jobs.

type jobFilter struct {
	Final, Status, Kind, Param, Since, Until string
}

type jobsView struct {
	// ID is the job looked up; Job is it, or NotFound.
	ID       string
	Job      *client.JobDetail
	NotFound bool
	F        jobFilter
	Types    []client.EventType
	Rows     []client.Job
	Next     string
	Error    string
}

// Filtered is whether the list is filtered: an empty list then says so
// rather than that there are no jobs at all.
func (v jobsView) Filtered() bool { return v.F != jobFilter{} }

func (v jobsView) query() url.Values {
	q := url.Values{}
	for k, val := range map[string]string{"final": v.F.Final, "status": v.F.Status, "kind": v.F.Kind, "partner_param": v.F.Param,
		"since": v.F.Since, "until": v.F.Until} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return q
}

// NextURL is the next page's address, with the filters kept.
func (v jobsView) NextURL() string {
	q := v.query()
	q.Set("cursor", v.Next)
	return "/portal/jobs?" + q.Encode()
}

func (p *Portal) jobs(w http.ResponseWriter, r *http.Request, st *state) {
	q := r.URL.Query()
	v := jobsView{ID: strings.TrimSpace(q.Get("id")), F: jobFilter{Final: q.Get("final"), Status: q.Get("status"),
		Kind: strings.TrimSpace(q.Get("kind")), Param: strings.TrimSpace(q.Get("partner_param")), Since: q.Get("since"), Until: q.Get("until")}}
	if v.ID != "" {
		j, err := st.api.GetJob(r.Context(), v.ID)
		switch {
		case err == nil:
			v.Job = j
		case notFound(err):
			v.NotFound = true
		default:
			p.fail(w, r, st, err)
			return
		}
		p.show(w, r, st, "jobs.html", "jobs", "Jobs", v)
		return
	}
	types, err := catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Types = types
	params := &client.JobListParams{ListParams: client.ListParams{Limit: 50, Cursor: q.Get("cursor")}, Order: "newest",
		Status: v.F.Status, Kind: v.F.Kind, PartnerParam: v.F.Param}
	switch v.F.Final {
	case "true", "false":
		params.Final = client.Ptr(v.F.Final == "true")
	}
	v.Error = readWindow(v.F.Since, v.F.Until, &params.UpdatedSince, &params.UpdatedBefore)
	if v.Error == "" {
		js, err := st.api.ListJobs(r.Context(), params)
		ae := problem(err)
		switch {
		case err == nil:
			v.Rows, v.Next = js.Data, js.NextCursor
		case ae != nil && ae.Status < 500:
			v.Error = detail(ae)
		default:
			p.fail(w, r, st, err)
			return
		}
	}
	p.show(w, r, st, "jobs.html", "jobs", "Jobs", v)
}

// readWindow reads a page's since and until fields into since and until,
// and answers what is wrong with them, or "".
func readWindow(sinceField, untilField string, since, until *time.Time) string {
	var bad []string
	for _, tf := range []struct {
		raw, name string
		to        *time.Time
	}{{sinceField, "since", since}, {untilField, "until", until}} {
		if tf.raw == "" {
			continue
		}
		t, err := parseLocal(tf.raw)
		if err != nil {
			bad = append(bad, tf.name+": give a date and time (UTC)")
			continue
		}
		*tf.to = t
	}
	return strings.Join(bad, "; ")
}

// The event-type catalog.

// catalogEntry is an event type with the endpoints of the scope that
// receive it.
type catalogEntry struct {
	client.EventType
	Endpoints []client.Endpoint
}

func (p *Portal) eventCatalog(w http.ResponseWriter, r *http.Request, st *state) {
	types, err := catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	eps, err := allEndpoints(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	entries := make([]catalogEntry, len(types))
	for i, t := range types {
		entries[i].EventType = t
		for _, e := range eps {
			if domain.MatchesFilter(e.EventTypes, t.Name) {
				entries[i].Endpoints = append(entries[i].Endpoints, e)
			}
		}
	}
	p.show(w, r, st, "catalog.html", "event-types", "Event types", struct {
		Types     []catalogEntry
		Endpoints int
	}{entries, len(eps)})
}

// jsonProblem says where a document that is not JSON goes wrong.
func jsonProblem(doc []byte) string {
	var v any
	err := json.Unmarshal(doc, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(doc[:se.Offset], []byte("\n"))
		return fmt.Sprintf("%v (line %d)", se, line)
	}
	if err != nil {
		return err.Error()
	}
	return "unexpected"
}
