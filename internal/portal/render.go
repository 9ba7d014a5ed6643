package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // the active section
	Console bool
	Session *store.PortalSession
	CSRF    string
	Flash   string
	Data    any
	// Brand is the tenant's branding, on a tenant's signed-in pages.
	Brand *domain.Branding
}

// Environments a session may switch to, for the switch in the header.
func (pg *page) Environments() []string {
	if pg.Session == nil {
		return nil
	}
	out := make([]string, len(pg.Session.Environments))
	for i, e := range pg.Session.Environments {
		out[i] = string(e)
	}
	return out
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"pretty": prettyJSON,
	"pct": func(n, d int) string {
		if d == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(d))
	},
	"join":     strings.Join,
	"list":     func(s ...string) []string { return s },
	"optField": optField,
	"statusClass": func(s string) string {
		switch s {
		case "succeeded", "active", "closed":
			return "ok"
		case "failed", "disabled", "open":
			return "bad"
		case "pending", "paused", "half_open":
			return "warn"
		}
		return "muted"
	},
	"httpClass": func(code int) string {
		switch {
		case code == 0:
			return "muted"
		case code >= 200 && code < 300:
			return "ok"
		}
		return "bad"
	},
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

// prettyJSON indents a JSON document for reading; anything else is shown as is.
func prettyJSON(v any) string {
	var raw []byte
	switch b := v.(type) {
	case json.RawMessage:
		raw = b
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return fmt.Sprint(v)
		}
	}
	if len(raw) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw)
	}
	return out.String()
}

// parsePages parses each page with the layout around it.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("portal: parse %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render writes a page; the template runs into a buffer first so that a
// template error becomes a clean 500 rather than half a page.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, name string, pg *page) {
	t := p.pages[name]
	if t == nil {
		p.log.Error("portal: no such page", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		p.log.Error("portal: render", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// show renders a page for a signed-in browser.
func (p *Portal) show(w http.ResponseWriter, r *http.Request, st *state, name, nav, title string, data any) {
	pg := p.pageFor(st, r, title, data)
	pg.Nav = nav
	// The message of a redirect after a form; shown only when the browser
	// says it came from our own pages, so a link from elsewhere cannot put
	// words in the portal's mouth.
	if site := r.Header.Get("Sec-Fetch-Site"); site == "" || site == "same-origin" {
		pg.Flash = r.URL.Query().Get("done")
	}
	p.render(w, r, http.StatusOK, name, pg)
}

// form is a form's values and the errors to show next to its fields.
type form struct {
	Values map[string]string
	Errors map[string]string
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// V is a field's value; E its error.
func (f *form) V(name string) string { return f.Values[name] }
func (f *form) E(name string) string { return f.Errors[name] }

// Other lists the errors that belong to no field of the form.
func (f *form) Other(known ...string) []string {
	var out []string
	for k, v := range f.Errors {
		found := false
		for _, n := range known {
			if k == n {
				found = true
			}
		}
		if !found {
			if k != "" {
				v = k + ": " + v
			}
			out = append(out, v)
		}
	}
	return out
}
