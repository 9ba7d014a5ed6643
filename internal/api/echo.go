package api

import (
	"strconv"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// maxEcho bounds how much of a caller's input an answer repeats: enough to
// recognise it, not enough for a 1 MiB header to come back whole.
const maxEcho = 128

// echo is s cut to maxEcho bytes (on a rune boundary), marked when cut.
func echo(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// maxDetail bounds a problem's detail and messages, which may quote input
// (a validation message naming the value it refused).
const maxDetail = 1024

func init() {
	// Every problem Herald answers is made here, its own and huma's (a
	// refused parameter's value, a schema error quoting the body): cut what
	// it repeats of the request.
	made := huma.NewError
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		e := made(status, msg, errs...)
		if m, ok := e.(*huma.ErrorModel); ok {
			m.Detail = cut(m.Detail, maxDetail)
			for _, d := range m.Errors {
				if d == nil {
					continue
				}
				d.Message = cut(d.Message, maxDetail)
				d.Location = cut(d.Location, maxDetail)
				if v, ok := d.Value.(string); ok {
					d.Value = echo(v)
				}
			}
		}
		return e
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
