package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/store"
)

// Readiness bounds: the store must answer within readyTimeout, and the
// dispatcher's loop must have gone round within beatStale (it does at
// least every second while idle, after every claim while busy).
const (
	readyTimeout = 2 * time.Second
	beatStale    = 30 * time.Second
)

// schemaReader is the store's part of the readiness check.
type schemaReader interface {
	Schema(ctx context.Context) (store.SchemaVersion, error)
}

// liveness is the dispatcher's part of it.
type liveness interface {
	Alive() (running bool, beat time.Time)
}

// readiness answers GET /readyz: 200 when the store answers, its
// migrations are all applied and the dispatcher is claiming; 503 with a
// problem naming each thing that is not, for load balancers and
// orchestrators. (GET /healthz, the API's, says only that the process
// serves.) The causes go to the log, not to the unauthenticated answer:
// a database error may name internal hosts.
type readiness struct {
	store      schemaReader
	dispatcher liveness
	log        *slog.Logger
	observe    func(time.Duration)

	mu   sync.Mutex
	last string
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	problems, causes := r.check(req.Context())
	r.logChange(problems, causes)
	w.Header().Set("Cache-Control", "no-store")
	if len(problems) == 0 {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ready\n"))
		return
	}
	p := &huma.ErrorModel{
		Title:  http.StatusText(http.StatusServiceUnavailable),
		Status: http.StatusServiceUnavailable,
		Detail: "not ready: " + strings.Join(messages(problems), "; "),
		Errors: problems,
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(p)
}

// check returns what is wrong (for the answer) and why (for the log).
func (r *readiness) check(ctx context.Context) ([]*huma.ErrorDetail, []any) {
	var problems []*huma.ErrorDetail
	var causes []any
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	start := time.Now()
	v, err := r.store.Schema(ctx)
	if r.observe != nil {
		r.observe(time.Since(start))
	}
	switch {
	case err != nil && (errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)):
		problems = append(problems, &huma.ErrorDetail{Location: "store", Message: "the database is unreachable or did not answer within " + readyTimeout.String()})
		causes = append(causes, "store_err", err.Error())
	case err != nil:
		problems = append(problems, &huma.ErrorDetail{Location: "migrations", Message: "the schema version cannot be read: the database answers, but Herald's tables are missing or unreadable"})
		causes = append(causes, "schema_err", err.Error())
	case !v.Applied():
		problems = append(problems, &huma.ErrorDetail{Location: "migrations",
			Message: fmt.Sprintf("the database is at migration %d; this binary needs %d (run herald migrate)", v.Current, v.Latest), Value: v.Current})
	}
	running, beat := r.dispatcher.Alive()
	switch {
	case !running:
		problems = append(problems, &huma.ErrorDetail{Location: "dispatcher", Message: "the dispatcher is not running"})
	case time.Since(beat) > beatStale:
		problems = append(problems, &huma.ErrorDetail{Location: "dispatcher",
			Message: fmt.Sprintf("the dispatcher's loop last went round %s ago (more than %s)", time.Since(beat).Round(time.Second), beatStale)})
	}
	return problems, causes
}

// logChange logs when readiness changes, not at every probe.
func (r *readiness) logChange(problems []*huma.ErrorDetail, causes []any) {
	now := strings.Join(messages(problems), "; ")
	r.mu.Lock()
	changed := now != r.last
	r.last = now
	r.mu.Unlock()
	switch {
	case !changed:
	case now == "":
		r.log.Info("ready again")
	default:
		r.log.Warn("not ready", append([]any{"problems", now}, causes...)...)
	}
}

func messages(problems []*huma.ErrorDetail) []string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.Location + ": " + p.Message
	}
	return out
}
