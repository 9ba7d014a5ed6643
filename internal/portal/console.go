package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/store"
)

// The operator console. Its session acts as the operator token does.

type tenantsView struct {
	Tenants []client.Tenant
	Next    string
	Form    *form
	Link    *client.PortalSession
}

func newTenantsView(st *state, r *http.Request, f *form) (*tenantsView, error) {
	ts, err := st.api.ListTenants(r.Context(), &client.ListParams{Limit: 100, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return nil, err
	}
	return &tenantsView{Tenants: ts.Data, Next: ts.NextCursor, Form: f}, nil
}

func (p *Portal) showTenants(w http.ResponseWriter, r *http.Request, st *state, status int, f *form, link *client.PortalSession) {
	v, err := newTenantsView(st, r, f)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v.Link = link
	pg := p.pageFor(st, r, "Tenants", v)
	pg.Nav = "tenants"
	if site := r.Header.Get("Sec-Fetch-Site"); site == "" || site == "same-origin" {
		pg.Flash = r.URL.Query().Get("done")
	}
	p.render(w, r, status, "tenants.html", pg)
}

func (p *Portal) tenants(w http.ResponseWriter, r *http.Request, st *state) {
	p.showTenants(w, r, st, http.StatusOK, newForm(), nil)
}

func (p *Portal) createTenant(w http.ResponseWriter, r *http.Request, st *state) {
	f := newForm()
	f.Values["id"], f.Values["name"] = strings.TrimSpace(r.PostFormValue("id")), strings.TrimSpace(r.PostFormValue("name"))
	t, err := st.api.CreateTenant(r.Context(), &client.TenantCreate{ID: f.V("id"), Name: f.V("name")})
	if err != nil {
		if ae := problem(err); ae != nil && ae.Status < 500 {
			f.Errors = ae.Fields()
			if ae.Status == http.StatusConflict {
				f.Errors["id"] = detail(ae)
			}
			p.showTenants(w, r, st, ae.Status, f, nil)
			return
		}
		p.fail(w, r, st, err)
		return
	}
	http.Redirect(w, r, "/console/tenants?done="+url.QueryEscape("Tenant "+t.ID+" created."), http.StatusSeeOther)
}

// openPortal asks the API for a sign-in link to the tenant's portal, to
// open here or hand to the tenant.
func (p *Portal) openPortal(w http.ResponseWriter, r *http.Request, st *state) {
	link, err := st.api.CreatePortalSession(r.Context(), r.PathValue("id"), &client.PortalSessionCreate{Environment: r.PostFormValue("environment")})
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.showTenants(w, r, st, http.StatusOK, newForm(), link)
}

func (p *Portal) eventTypes(w http.ResponseWriter, r *http.Request, st *state) {
	ts, err := st.api.ListEventTypes(r.Context())
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "event_types.html", "event-types", "Event types", ts.Data)
}

// healthMinutes is the span of the health page's per-minute chart.
const healthMinutes = 60

type healthView struct {
	H         *store.Health
	Chart     chart
	PerMinute string
	FailRate  string
	OldestAge string
	OldestDue string
}

func (p *Portal) health(w http.ResponseWriter, r *http.Request, st *state) {
	if p.stats == nil {
		p.show(w, r, st, "message.html", "health", "Health", "This store keeps no delivery statistics.")
		return
	}
	now := p.now()
	h, err := p.stats.Health(r.Context(), now, healthMinutes)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	v := healthView{H: h, Chart: chart{Step: time.Minute, Unit: "attempts"}}
	attempts, failed := 0, 0
	for _, m := range h.Minutes {
		v.Chart.Bars = append(v.Chart.Bars, bar{Start: m.Start, Succeeded: m.Attempts - m.Failed, Failed: m.Failed})
		attempts, failed = attempts+m.Attempts, failed+m.Failed
	}
	v.PerMinute = formatRate(float64(attempts) / float64(healthMinutes))
	v.FailRate = "—"
	if attempts > 0 {
		v.FailRate = formatRate(100*float64(failed)/float64(attempts)) + "%"
	}
	if h.OldestPending != nil {
		v.OldestAge = age(now.Sub(*h.OldestPending))
	}
	if h.OldestDue != nil {
		v.OldestDue = age(now.Sub(*h.OldestDue))
	}
	p.show(w, r, st, "health.html", "health", "Health", v)
}

func formatRate(f float64) string {
	if f >= 10 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// age is a duration as a person reads it: 45s, 12m, 3h 5m, 2d 4h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h " + strconv.Itoa(int(d.Minutes())%60) + "m"
	}
	return strconv.Itoa(int(d.Hours())/24) + "d " + strconv.Itoa(int(d.Hours())%24) + "h"
}
