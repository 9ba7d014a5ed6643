package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// maxUnknownNamed bounds how many unknown parameters one answer names.
const maxUnknownNamed = 10

// strictQuery refuses a read (GET) whose URL carries a query parameter the
// operation does not declare, with a 400 naming it: a misspelt filter
// (?stauts=failed) would otherwise be ignored and answer with everything.
// It is driven by each operation's declared parameters, so an operation
// added later is covered without a line of its own.
func strictQuery(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		if op == nil || op.Method != http.MethodGet {
			next(ctx)
			return
		}
		u := ctx.URL()
		query := u.Query()
		if len(query) == 0 {
			next(ctx)
			return
		}
		var declared []string
		for _, p := range op.Parameters {
			if p.In == "query" {
				declared = append(declared, p.Name)
			}
		}
		var unknown []string
		for name := range query {
			if !slices.Contains(declared, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			next(ctx)
			return
		}
		slices.Sort(unknown)
		if len(unknown) > maxUnknownNamed {
			unknown = unknown[:maxUnknownNamed]
		}
		takes := "no query parameters"
		if len(declared) > 0 {
			takes = "the query parameters " + strings.Join(declared, ", ")
		}
		details := make([]error, len(unknown))
		for i, name := range unknown {
			details[i] = &huma.ErrorDetail{Location: "query." + name, Message: "unknown query parameter", Value: echo(name)}
		}
		_ = huma.WriteErr(api, ctx, http.StatusBadRequest,
			"unknown query parameter "+echo(unknown[0])+": "+op.OperationID+" takes "+takes, details...)
	}
}
