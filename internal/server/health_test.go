package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// ask serves GET /readyz from r.
func ask(r *readiness) (int, string) {
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// A dispatcher that was running and stopped makes the process unready,
// and so does one whose loop has not gone round for too long.
func TestReadinessFollowsTheDispatchersLoop(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := dispatch.New(st, egress.New(egress.Options{}), dispatch.Config{Logger: log, Poll: 50 * time.Millisecond})
	r := &readiness{store: st, dispatcher: d, log: log}

	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for code, _ := ask(r); code != http.StatusOK; code, _ = ask(r) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready with the dispatcher running: %d", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if code, body := ask(r); code != http.StatusServiceUnavailable || !strings.Contains(body, "the dispatcher is not running") {
		t.Fatalf("after the dispatcher stopped: %d %s", code, body)
	}

	r.dispatcher = stalled{}
	if code, body := ask(r); code != http.StatusServiceUnavailable || !strings.Contains(body, "last went round") {
		t.Fatalf("with the loop stalled: %d %s", code, body)
	}
}

// stalled is a dispatcher whose loop is stuck (a claim that never returns).
type stalled struct{}

func (stalled) Alive() (bool, time.Time) { return true, time.Now().Add(-2 * beatStale) }
