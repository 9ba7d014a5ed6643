package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// counted is a store whose backlog reads are counted, and made slow when
// asked: a database under load.
type counted struct {
	store.Store
	reads atomic.Int32
	slow  atomic.Bool
}

func (c *counted) Backlog(ctx context.Context, byEndpoint bool) ([]store.BacklogGroup, error) {
	c.reads.Add(1)
	if c.slow.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return c.Store.Backlog(ctx, byEndpoint)
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// However often Prometheus scrapes, the database is asked for the backlog
// at most once per BacklogEvery, and a slow database costs a scrape at
// most BacklogTimeout: the last good read is exported meanwhile.
func TestScrapesCannotLoadTheDatabase(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	db := &counted{Store: st}
	m := metrics.New(metrics.Config{Backlog: db, BacklogEvery: time.Hour, BacklogTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := m.Handler()
	for range 20 {
		scrape(t, h)
	}
	if n := db.reads.Load(); n != 1 {
		t.Fatalf("20 scrapes read the backlog %d times, want 1", n)
	}

	m = metrics.New(metrics.Config{Backlog: db, BacklogEvery: time.Nanosecond, BacklogTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	db.slow.Store(true)
	start := time.Now()
	body := scrape(t, m.Handler())
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a scrape against a slow database took %s", took)
	}
	if !strings.Contains(body, "herald_backlog_read_errors_total 1") {
		t.Fatalf("the timed-out read is not counted:\n%s", body)
	}
}

// Error classes other than the attempt log's are counted as "other", so a
// new class cannot grow the label without bound.
func TestErrorClassesStayBounded(t *testing.T) {
	m := metrics.New(metrics.Config{})
	sc := domain.Scope{TenantID: "acme", Environment: domain.Sandbox}
	for _, class := range []string{"http", "timeout", "something new", ""} {
		m.Attempted(&store.Outcome{Scope: sc, Status: domain.DeliveryPending, Attempt: domain.Attempt{ErrorClass: class}})
	}
	m.Attempted(&store.Outcome{Scope: sc, Status: domain.DeliveryCancelled})
	want := `
# HELP herald_delivery_attempts_total Delivery attempts made, by result (success or failure) and error class (empty on success).
# TYPE herald_delivery_attempts_total counter
herald_delivery_attempts_total{environment="sandbox",error_class="config",result="failure",tenant="acme"} 1
herald_delivery_attempts_total{environment="sandbox",error_class="http",result="failure",tenant="acme"} 1
herald_delivery_attempts_total{environment="sandbox",error_class="other",result="failure",tenant="acme"} 1
herald_delivery_attempts_total{environment="sandbox",error_class="timeout",result="failure",tenant="acme"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "herald_delivery_attempts_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.Registry(), "herald_deliveries_finished_total"); n != 1 {
		t.Fatalf("%d finished series, want the cancellation's alone", n)
	}
}
