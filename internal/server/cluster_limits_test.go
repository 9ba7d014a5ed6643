package server_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
)

// These tests prove the limits that hold for all of Herald's processes
// together: on PostgreSQL, three servers in this test process, each with
// its own store (its own connection pools) and its own dispatcher, on one
// schema, as three processes would be; on SQLite, which one process
// serves, one server, where the same limits must hold too.

// eachCluster runs test on both: the servers of one database.
func eachCluster(t *testing.T, test func(t *testing.T, hs []*servertest.Herald)) {
	t.Run("sqlite", func(t *testing.T) { test(t, cluster(t, 1, "")) })
	t.Run("postgres", func(t *testing.T) { test(t, cluster(t, 3, pgtest.URL(t))) })
}

// cluster starts n servers on database db; each sends the User-Agent
// Herald/p0, Herald/p1, …, so a receiver can tell who sent what.
func cluster(t *testing.T, n int, db string) []*servertest.Herald {
	hs := make([]*servertest.Herald, n)
	for i := range hs {
		name := fmt.Sprintf("p%d", i)
		hs[i] = servertest.Start(t, func(s *servertest.Settings) { s.Database, s.Config.Version = db, name })
	}
	return hs
}

// gauge is a receiver that holds each request a while and records how
// many were in flight at once, when each came and which process sent it.
type gauge struct {
	*httptest.Server
	mu       sync.Mutex
	inFlight int
	most     int
	arrivals []time.Time
	events   map[string]bool
	senders  map[string]int
}

func newGauge(t *testing.T, hold time.Duration) *gauge {
	g := &gauge{events: map[string]bool{}, senders: map[string]int{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		g.mu.Lock()
		g.inFlight++
		g.most = max(g.most, g.inFlight)
		g.arrivals = append(g.arrivals, time.Now())
		g.events[r.Header.Get("webhook-id")] = true
		g.senders[r.UserAgent()]++
		g.mu.Unlock()
		time.Sleep(hold)
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(g.Close)
	return g
}

// await waits until n distinct events have come.
func (g *gauge) await(t *testing.T, n int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		g.mu.Lock()
		got := len(g.events)
		g.mu.Unlock()
		if got >= n {
			return
		}
	}
	t.Fatalf("%d of %d events came within %s", len(g.events), n, within)
}

// publishMany publishes n events in batches, spread over the servers.
func publishMany(t *testing.T, hs []*servertest.Herald, n int) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		batch := make([]client.PublishEvent, min(100, n-i))
		for j := range batch {
			batch[j] = client.PublishEvent{Type: "check.approved", Data: servertest.JSON(map[string]int{"n": i + j})}
		}
		h := hs[(i/100)%len(hs)]
		servertest.Must(h.As("acme", "sandbox").PublishBatch(t.Context(), batch))(t)
	}
}

func TestMaxConcurrencyHoldsForEveryProcessTogether(t *testing.T) {
	eachCluster(t, func(t *testing.T, hs []*servertest.Herald) {
		rc := newGauge(t, 40*time.Millisecond)
		hs[0].Tenant("acme")
		hs[0].Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, MaxConcurrency: client.Ptr(4)})
		const events = 300
		publishMany(t, hs, events)
		rc.await(t, events, time.Minute)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		t.Logf("at most %d in flight; sent by %v", rc.most, rc.senders)
		if rc.most > 4 {
			t.Fatalf("%d requests in flight at once to an endpoint of max_concurrency 4 (senders %v)", rc.most, rc.senders)
		}
		if rc.most < 4 {
			t.Fatalf("at most %d requests in flight at once: the endpoint's 4 were never used", rc.most)
		}
		// The processes took turns at the endpoint: none keeps it to itself
		// while another runs.
		if len(hs) > 1 && len(rc.senders) < 2 {
			t.Fatalf("only %v sent, of %d processes", rc.senders, len(hs))
		}
	})
}

func TestRateLimitHoldsForEveryProcessTogetherAndSpendsNoAttempts(t *testing.T) {
	eachCluster(t, func(t *testing.T, hs []*servertest.Herald) {
		rc := newGauge(t, 0)
		hs[0].Tenant("acme")
		ep := hs[0].Endpoint("acme", "sandbox", client.EndpointCreate{URL: rc.URL, MaxConcurrency: client.Ptr(16), RateLimit: client.Ptr(25)})
		const events = 100
		publishMany(t, hs, events)
		rc.await(t, events, time.Minute)
		rc.mu.Lock()
		arrivals := slices.Clone(rc.arrivals)
		senders := rc.senders
		rc.mu.Unlock()
		// 25 a second with a burst of 3: the 100 take about 3.9 s.
		span := arrivals[len(arrivals)-1].Sub(arrivals[0])
		rate := float64(len(arrivals)-1) / span.Seconds()
		t.Logf("%d requests in %s: %.1f a second; sent by %v", len(arrivals), span, rate, senders)
		if rate > 25*1.1 || rate < 25*0.75 {
			t.Fatalf("%.1f requests a second to an endpoint limited to 25", rate)
		}
		// In any one second, no more than the rate and the burst, and five
		// for the time between a token's take and its request's arrival:
		// requests held up for a fifth of a second on a busy machine (CI,
		// -race, other packages' tests) arrive together with the next
		// ones. A burst of more than 3, or a rate above 25, still shows.
		for i, a := range arrivals {
			j, _ := slices.BinarySearchFunc(arrivals, a.Add(time.Second), func(x, y time.Time) int { return x.Compare(y) })
			if j-i > 25+3+5 {
				t.Fatalf("%d requests in the second after %s", j-i, a.Format(time.StampMilli))
			}
		}
		// Waiting for the rate is not an attempt: each delivery took one
		// (once its outcome is recorded, a moment after it arrived).
		api := hs[0].As("acme", "sandbox")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			pending := servertest.Must(api.ListDeliveries(t.Context(), &client.DeliveryListParams{EndpointID: ep.ID, Status: "pending"}))(t)
			if len(pending.Data) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries still pending 10 s after they arrived", len(pending.Data))
			}
		}
		ds := servertest.Must(api.ListDeliveries(t.Context(), &client.DeliveryListParams{
			EndpointID: ep.ID, ListParams: client.ListParams{Limit: events}}))(t)
		if len(ds.Data) != events {
			t.Fatalf("%d deliveries, want %d", len(ds.Data), events)
		}
		for _, d := range ds.Data {
			if d.AttemptCount != 1 || d.Status != "succeeded" {
				t.Fatalf("delivery %s: %s after %d attempts, want succeeded after 1", d.ID, d.Status, d.AttemptCount)
			}
		}
	})
}

func TestAPIKeyRateLimitHoldsForEveryProcessTogether(t *testing.T) {
	eachCluster(t, func(t *testing.T, hs []*servertest.Herald) {
		ctx := t.Context()
		hs[0].Tenant("acme")
		const perMinute, burst = 600, 32
		servertest.Must(hs[0].Client.UpdateTenant(ctx, "acme", &client.TenantUpdate{
			RateLimitPerMinute: client.Ptr(perMinute), RateLimitBurst: client.Ptr(burst)}))(t)
		key := hs[0].APIKey("acme", "sandbox").Key
		var mu sync.Mutex
		allowed, refused := 0, 0
		var retryAfter time.Duration
		var failed error
		began := time.Now()
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := hs[w%len(hs)].Client.WithToken(key)
				for time.Since(began) < 3*time.Second {
					_, err := c.ListEndpoints(ctx, nil)
					var e *client.Error
					mu.Lock()
					switch {
					case err == nil:
						allowed++
					case errors.As(err, &e) && e.Status == http.StatusTooManyRequests:
						refused++
						retryAfter = e.RetryAfter
					default:
						failed = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(began)
		if failed != nil {
			t.Fatal(failed)
		}
		// The burst and ten a second, for the cluster as a whole.
		most := burst + int(elapsed.Seconds()*perMinute/60) + 1
		t.Logf("%d allowed and %d refused in %s; at most %d", allowed, refused, elapsed, most)
		if allowed > most {
			t.Fatalf("%d calls allowed in %s to a key of %d a minute and a burst of %d: more than %d", allowed, elapsed, perMinute, burst, most)
		}
		if allowed < most*3/4 {
			t.Fatalf("only %d calls allowed of the %d the limit allows", allowed, most)
		}
		if refused == 0 || retryAfter <= 0 {
			t.Fatalf("%d refused, Retry-After %s", refused, retryAfter)
		}
	})
}
