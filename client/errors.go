package client

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is the API's answer to a call that failed: its RFC 9457
// problem+json body, or for an answer that is not one (a proxy's error
// page), the status alone. Get it with errors.As.
type Error struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Errors name the fields that were refused, for a 400 or a 422.
	Errors []FieldError `json:"errors"`
	// RetryAfter is how long to wait before trying again, from the
	// Retry-After header of a 429 or a 503; zero when absent.
	RetryAfter time.Duration `json:"-"`
}

// FieldError is one refused part of a request.
type FieldError struct {
	// Location is where the error is, such as body.url,
	// body.retry_policy.delays[1] or header.Herald-Tenant.
	Location string `json:"location"`
	Message  string `json:"message"`
	// Value is the value refused, when the API says it.
	Value any `json:"value,omitempty"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Status)
	if msg := cmp.Or(e.Detail, e.Title); msg != "" {
		b.WriteString(" ")
		b.WriteString(msg)
	}
	for _, f := range e.Errors {
		fmt.Fprintf(&b, "; %s: %s", f.Location, f.Message)
	}
	return b.String()
}

// Field is the top-level request body field the error is about (body.url
// → url, body.retry_policy.delays[1] → retry_policy), or "" for an error
// outside the body (a header, the path, the query).
func (f FieldError) Field() string {
	field, ok := strings.CutPrefix(f.Location, "body.")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(field, ".["); i >= 0 {
		field = field[:i]
	}
	return field
}

// Fields maps the errors to the top-level body fields they are about, as a
// form shows them: the messages of one field joined with "; ", errors
// outside the body under "", and the detail under "" when no field is
// named.
func (e *Error) Fields() map[string]string {
	out := map[string]string{}
	for _, d := range e.Errors {
		f := d.Field()
		if out[f] != "" {
			out[f] += "; "
		}
		out[f] += d.Message
	}
	if len(out) == 0 {
		out[""] = cmp.Or(e.Detail, http.StatusText(e.Status))
	}
	return out
}

// problem reads a failed answer.
func problem(resp *http.Response, body []byte) *Error {
	e := &Error{}
	if json.Unmarshal(body, e) != nil {
		e = &Error{}
	}
	e.Status = resp.StatusCode
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
