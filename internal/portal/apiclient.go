package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// apiError is the API's RFC 9457 answer to a call that failed.
type apiError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

func (e *apiError) Error() string { return fmt.Sprintf("API answered %d: %s", e.Status, e.Detail) }

// fields maps the problem's errors to form fields: body.url → url,
// body.retry_policy.delays[1] → retry_policy. Errors without a body
// location go under "".
func (e *apiError) fields() map[string]string {
	out := map[string]string{}
	for _, d := range e.Errors {
		f, ok := strings.CutPrefix(d.Location, "body.")
		if !ok {
			f = ""
		}
		if i := strings.IndexAny(f, ".["); i >= 0 {
			f = f[:i]
		}
		if out[f] != "" {
			out[f] += "; "
		}
		out[f] += d.Message
	}
	if len(out) == 0 {
		out[""] = e.Detail
	}
	return out
}

// recorder is an in-memory http.ResponseWriter for in-process API calls.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// call makes one request to the JSON API in this process with credential
// as the bearer token, and decodes its answer into out. The browser's
// request lends its context (cancellation), host and scheme (links the API
// builds). A failed call is an *apiError.
func (p *Portal) call(from *http.Request, credential, method, path string, body, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("portal: encode %s %s: %w", method, path, err)
		}
	}
	req, err := http.NewRequestWithContext(from.Context(), method, path, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("portal: %s %s: %w", method, path, err)
	}
	req.Host, req.TLS, req.RemoteAddr = from.Host, from.TLS, from.RemoteAddr
	if proto := from.Header.Get("X-Forwarded-Proto"); proto != "" {
		req.Header.Set("X-Forwarded-Proto", proto)
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	p.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		ae := &apiError{Status: rec.status}
		if err := json.Unmarshal(rec.body.Bytes(), ae); err != nil || ae.Detail == "" {
			ae.Detail = http.StatusText(rec.status)
		}
		ae.Status = rec.status
		return ae
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("portal: decode the answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}

// as calls the API as the signed-in browser.
func (p *Portal) as(st *state, r *http.Request, method, path string, body, out any) error {
	return p.call(r, st.secret, method, path, body, out)
}
