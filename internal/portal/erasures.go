package portal

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/client"
)

// erasuresView is the console's list of erasure receipts.
type erasuresView struct {
	Tenant string
	Rows   []erasureRow
	Next   template.URL
}

// erasureRow is a receipt; WALPending says SQLite's log still held old
// pages when the erasure ended.
type erasureRow struct {
	client.Erasure
	WALPending bool
}

// erasures lists the receipts of erasures in every tenant, newest first:
// what was asked (a partner-param value only as its hash), what matched
// and what was erased.
func (p *Portal) erasures(w http.ResponseWriter, r *http.Request, st *state) {
	q := r.URL.Query()
	v := erasuresView{Tenant: strings.TrimSpace(q.Get("tenant"))}
	l, err := st.api.ListErasures(r.Context(), &client.ErasureListParams{ListParams: client.ListParams{Limit: 50, Cursor: q.Get("cursor")}, Tenant: v.Tenant})
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	for _, e := range l.Data {
		v.Rows = append(v.Rows, erasureRow{Erasure: e, WALPending: e.WALTruncated != nil && !*e.WALTruncated})
	}
	if l.NextCursor != "" {
		next := url.Values{"cursor": {l.NextCursor}}
		if v.Tenant != "" {
			next.Set("tenant", v.Tenant)
		}
		v.Next = template.URL("/console/erasures?" + next.Encode()) //nolint:gosec // url.Values encodes every value
	}
	p.show(w, r, st, "erasures.html", "erasures", "Erasures", v)
}
