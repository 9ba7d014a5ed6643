package domain

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

var (
	tenantIDPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	eventTypePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$`)
	filterPattern    = regexp.MustCompile(`^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*(\.\*)?|\*)$`)
)

// ValidateTenantID enforces lower-case letters, digits, "-" and "_", at most 64.
func ValidateTenantID(id string) error {
	if !tenantIDPattern.MatchString(id) {
		return Invalid("id", "tenant id %q must be 1 to 64 lower-case letters, digits, '-' or '_', starting with a letter or digit", id)
	}
	return nil
}

// ValidateEventTypeName enforces dotted names such as "verification.approved".
func ValidateEventTypeName(field, name string) error {
	if len(name) == 0 || len(name) > 128 || !eventTypePattern.MatchString(name) {
		return Invalid(field, "event type %q must be dot-separated words of letters, digits, '-' or '_' (at most 128 characters), e.g. verification.approved", name)
	}
	return nil
}

// ValidateFilter checks an endpoint's event-type filter.
func ValidateFilter(filter []string) error {
	for i, f := range filter {
		if len(f) > 128 || !filterPattern.MatchString(f) {
			return Invalid(fieldIndex("event_types", i), "%q is not an event type or a prefix pattern such as verification.*", f)
		}
	}
	return nil
}

// reservedHeaders are set by Herald on every delivery; an endpoint may not override them.
var reservedHeaders = map[string]bool{
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
	"Content-Type": true, "Content-Length": true, "Host": true, "User-Agent": true,
	"Transfer-Encoding": true, "Connection": true,
}

// ValidateHeaders checks an endpoint's custom headers.
func ValidateHeaders(h map[string]string) error {
	if len(h) > 32 {
		return Invalid("headers", "at most 32 custom headers")
	}
	for k, v := range h {
		field := "headers." + k
		if k == "" || strings.ContainsAny(k, " :\r\n\t") || len(k) > 128 {
			return Invalid(field, "header name %q is not a valid HTTP header name", k)
		}
		if reservedHeaders[http.CanonicalHeaderKey(k)] {
			return Invalid(field, "header %q is set by Herald and cannot be overridden", k)
		}
		if strings.ContainsAny(v, "\r\n") || len(v) > 4096 {
			return Invalid(field, "header value must be a single line of at most 4096 bytes")
		}
	}
	return nil
}

func fieldIndex(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

// SensitiveHeader says whether a header's value must not be shown: the
// attempt log and the API mask it.
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"auth", "key", "token", "secret", "password", "cookie", "session", "credential", "signature"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Mask keeps enough of a secret to tell two apart, and no more.
func Mask(v string) string {
	if len(v) < 16 {
		return "****"
	}
	return "****" + v[len(v)-4:]
}

// MaskedHeaders returns headers with the values of sensitive ones masked.
func MaskedHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if SensitiveHeader(k) {
			v = Mask(v)
		}
		out[k] = v
	}
	return out
}

// CheckFilterRegistered refuses a filter entry that names no registered
// type: neither one of them nor a pattern matching at least one. A
// misspelt type would otherwise be saved and silently match nothing.
func CheckFilterRegistered(filter, registered []string) error {
	for i, f := range filter {
		matched := false
		for _, name := range registered {
			if MatchesFilter([]string{f}, name) {
				matched = true
				break
			}
		}
		if !matched {
			what := "is not a registered event type"
			if f == "*" || strings.HasSuffix(f, ".*") {
				what = "matches no registered event type"
			}
			return Invalid(fieldIndex("event_types", i), "%q %s (GET /v1/event-types lists them); set allow_unregistered_types to save it anyway", f, what)
		}
	}
	return nil
}
