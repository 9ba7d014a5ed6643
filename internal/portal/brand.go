package portal

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Branding: a tenant's pages show its display name, logo and accent
// colour, and may be framed by the origins the operator allowed. The
// branding is read from the store directly, like the session, because it
// decides the headers of every page (framing, cookies) before any call to
// the API; its logo and colours are served from the portal's own origin,
// so the Content-Security-Policy stays 'self' and no request leaves it.

// pageCSP is every page's Content-Security-Policy; brandedCSP relaxes only
// its frame-ancestors.
const pageCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// brandAssetAge is how long a browser may keep a tenant's stylesheet and
// logo: their addresses carry their version, so a change is a new address.
const brandAssetAge = "private, max-age=86400"

// setPolicy sets a tenant page's Content-Security-Policy: the tenant's
// allowed origins (and the portal itself) may show it in a frame, and its
// forms may lead to the session's return URL (sign-out redirects there,
// and browsers hold a form's redirects to form-action too).
func setPolicy(w http.ResponseWriter, b *domain.Branding, returnURL string) {
	h := w.Header()
	csp := pageCSP
	// The origins were checked when they were set: scheme://host[:port]
	// with a plain host, so nothing in them can end the directive.
	if b != nil && len(b.FrameAncestors) > 0 {
		csp = strings.Replace(csp, "frame-ancestors 'none'", "frame-ancestors 'self' "+strings.Join(b.FrameAncestors, " "), 1)
		h.Del("X-Frame-Options")
	}
	if u, err := url.Parse(returnURL); err == nil && u.Host != "" {
		csp = strings.Replace(csp, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1)
	}
	h.Set("Content-Security-Policy", csp)
}

// embeddable reports whether a tenant's session cookie must work inside
// another site's frame: SameSite=None, which browsers accept only with
// Secure, which they keep over plain HTTP only on a loopback host.
func embeddable(r *http.Request, b *domain.Branding) bool {
	if b == nil || len(b.FrameAncestors) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	return secure(r) || domain.IsLoopbackHost(host)
}

// brandFor reads a tenant's branding.
func (p *Portal) brandFor(r *http.Request, tenantID string) (*domain.Branding, error) {
	if p.brands == nil {
		return nil, errors.New("portal: the store keeps no branding")
	}
	return p.brands.Branding(r.Context(), tenantID)
}

// brandStyle serves the tenant's accent colour as a stylesheet of custom
// properties that portal.css uses: --brand-accent is the colour as given
// (the header's rule), --accent the colour darkened until text of it, or
// white text on it, is readable (links and buttons).
func (p *Portal) brandStyle(w http.ResponseWriter, r *http.Request, st *state) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", brandAssetAge)
	if st.brand.AccentColor == "" {
		return
	}
	fmt.Fprintf(w, ":root { --brand-accent: %s; --accent: %s; }\n", st.brand.AccentColor, readableAccent(st.brand.AccentColor))
}

// brandLogo serves the tenant's logo: a PNG or JPEG checked when it was
// set, with its own type, and a policy that lets it run nothing.
func (p *Portal) brandLogo(w http.ResponseWriter, r *http.Request, st *state) {
	l, err := p.brands.BrandingLogo(r.Context(), st.sess.TenantID)
	if errors.Is(err, domain.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", l.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(l.Data)))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", brandAssetAge)
	_, _ = w.Write(l.Data)
}

// endedSession finds where a browser whose tenant session is over should
// go: the session's return_url, while its row is kept, or "".
func (p *Portal) endedSession(r *http.Request) string {
	c, err := r.Cookie(tenantCookie)
	if err != nil || !strings.HasPrefix(c.Value, credential.PortalSessionPrefix) {
		return ""
	}
	sess, err := p.sessions.EndedPortalSession(r.Context(), credential.Hash(c.Value))
	if err != nil || sess.Operator {
		return ""
	}
	return sess.ReturnURL
}

// readableAccent darkens an accent colour (#rrggbb) until it has a
// contrast of at least 4.5:1 (WCAG AA for text) with the page's background
// and with white, so that links in it and white text on it are readable.
func readableAccent(hex string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		return hex
	}
	rgb := [3]float64{float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)}
	const background = 0xf7f8fa // --bg in portal.css; white is lighter still
	bg := luminance([3]float64{background >> 16 & 0xff, background >> 8 & 0xff, background & 0xff})
	for (bg+0.05)/(luminance(rgb)+0.05) < 4.5 {
		for i := range rgb {
			rgb[i] = math.Floor(rgb[i] * 0.9)
		}
	}
	return fmt.Sprintf("#%02x%02x%02x", int(rgb[0]), int(rgb[1]), int(rgb[2]))
}

// luminance is WCAG 2's relative luminance of an sRGB colour.
func luminance(rgb [3]float64) float64 {
	var l [3]float64
	for i, c := range rgb {
		c /= 255
		if c <= 0.03928 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// endedKept is how long the store keeps a session's row after it expired
// (sqlstore's sessionKeep): as long as its return URL can be found.
const endedKept = 24 * time.Hour

// cookieUntil is when the browser drops a session's cookie: when the
// session expires, or, for a session with a return URL, as long after as
// its row is kept, so that a browser coming back after the end is sent
// there. The cookie grants nothing by itself: the store says whether the
// session is live.
func cookieUntil(sess *store.PortalSession) time.Time {
	if sess.ReturnURL == "" {
		return sess.ExpiresAt
	}
	return sess.ExpiresAt.Add(endedKept)
}
