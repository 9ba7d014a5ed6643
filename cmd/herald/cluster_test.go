package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/server/servertest"
	"github.com/heraldhq/herald/internal/store/postgres/pgtest"
	"github.com/heraldhq/herald/webhook"
)

// These tests run the real binary on PostgreSQL: three processes sharing
// the work while one of them is killed, and one process riding out a
// database that drops its connections. They call the API with the typed
// client; what runs in the many goroutines here (the publisher, the
// counting receiver) returns or records its errors rather than calling
// t.Fatal, which only the test's goroutine may.

const clusterToken = "cluster-operator-token"

// pgProc is a herald binary serving on a PostgreSQL database.
type pgProc struct {
	name   string
	api    *client.Client // the operator's
	owner  string         // the lease owner its dispatcher writes into deliveries
	app    string         // its application_name in pg_stat_activity
	cmd    *exec.Cmd
	stderr *servertest.Log
	exited chan error
}

var listeningOwner = regexp.MustCompile(`herald is listening"?.*\baddr=(\S+).*\bowner="?([^"\s]+)`)

// withQuery returns dbURL with one more query parameter.
func withQuery(t *testing.T, dbURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startPGProcess starts `herald serve` on dbURL under application_name app.
// It does not call t.Fatal, so several can start at once from goroutines.
// clusterMasterKey is shared by every process of a cluster, as it must be.
var clusterMasterKey = secrets.EncodeKey(bytes.Repeat([]byte{7}, secrets.KeySize))

func startPGProcess(t *testing.T, bin, name, dbURL, app string, args ...string) (*pgProc, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("application_name", app)
	// Small pools: CI runs other PostgreSQL tests beside these processes.
	q.Set("max_conns", "8")
	u.RawQuery = q.Encode()
	cmd := exec.Command(bin, append([]string{"serve", "--database", u.String(), "--listen", "127.0.0.1:0",
		"--allow-private-destinations", "--operator-token", clusterToken, "--master-key", clusterMasterKey, "--no-production-https-only"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &pgProc{name: name, app: app, cmd: cmd, stderr: &servertest.Log{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	type ready struct{ addr, owner string }
	readyc := make(chan ready, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			if m := listeningOwner.FindStringSubmatch(line); m != nil {
				readyc <- ready{m[1], m[2]}
			}
		}
		_, _ = io.Copy(p.stderr, stderr)
		p.exited <- cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("%s stderr (last 8 KiB):\n%s", name, tail(p.stderr.String(), 8<<10))
		}
	})
	select {
	case r := <-readyc:
		p.api, p.owner = client.New("http://"+r.addr, clusterToken, client.WithHTTPClient(clusterHTTP)), r.owner
		return p, nil
	case err := <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", name, err, p.stderr.String())
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("%s did not start:\n%s", name, p.stderr.String())
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// running reports whether the process has not exited.
func (p *pgProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// clusterHTTP carries every API call of these tests, from many goroutines
// to a few processes: it keeps enough connections open for all of them.
var clusterHTTP = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}()

// publisher publishes with an Idempotency-Key and retries, with the same key
// and the same event, whatever may not have been taken: a connection error,
// a 503 (honouring its Retry-After, up to maxWait) or a 500 (counted, so the
// test can report it). Only a 202 ends it.
type publisher struct {
	tenant  string
	env     string
	maxWait time.Duration

	mu      sync.Mutex
	targets []*pgProc

	accepted, replayed         atomic.Int64
	connErrors, unavailable    atomic.Int64
	unavailableWithRetryAfter  atomic.Int64
	serverErrors               atomic.Int64
	firstServerError           atomic.Pointer[string]
	firstUnavailableRetryAfter atomic.Pointer[string]
}

func (p *publisher) setTargets(ts []*pgProc) {
	p.mu.Lock()
	p.targets = ts
	p.mu.Unlock()
}

func (p *publisher) target(n int) *pgProc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.targets[n%len(p.targets)]
}

type publishOutcome struct {
	id       string
	attempts int
	at       time.Time
}

func (p *publisher) publish(ctx context.Context, ev client.PublishEvent, spread int) (publishOutcome, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return publishOutcome{}, fmt.Errorf("publish %s gave up after %d attempts: %w (last: %v)", ev.IdempotencyKey, attempt, ctx.Err(), lastErr)
		}
		target := p.target(spread + attempt)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := target.api.WithScope(p.tenant, p.env).Publish(rctx, &ev)
		cancel()
		var refused *client.Error
		var wait time.Duration
		switch {
		case err == nil:
			if res.ID == "" {
				return publishOutcome{}, fmt.Errorf("publish %s: accepted without an id: %+v", ev.IdempotencyKey, res)
			}
			p.accepted.Add(1)
			if res.Replayed {
				p.replayed.Add(1)
			}
			return publishOutcome{id: res.ID, attempts: attempt + 1, at: time.Now()}, nil
		case !errors.As(err, &refused):
			p.connErrors.Add(1)
			lastErr = err
			wait = 20 * time.Millisecond
		case refused.Status == http.StatusServiceUnavailable:
			p.unavailable.Add(1)
			lastErr = refused
			wait = 50 * time.Millisecond
			if refused.RetryAfter > 0 {
				p.unavailableWithRetryAfter.Add(1)
				s := fmt.Sprintf("Retry-After: %s; %v", refused.RetryAfter, refused)
				p.firstUnavailableRetryAfter.CompareAndSwap(nil, &s)
				wait = min(refused.RetryAfter, p.maxWait)
			}
		case refused.Status >= 500:
			p.serverErrors.Add(1)
			s := refused.Error()
			p.firstServerError.CompareAndSwap(nil, &s)
			lastErr = refused
			wait = 50 * time.Millisecond
		default:
			return publishOutcome{}, fmt.Errorf("publish %s to %s: %w", ev.IdempotencyKey, target.name, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// countingReceiver is a customer's server for many deliveries: it verifies
// every request with the webhook package and counts arrivals per event id,
// with the first and last arrival of each, into a total shared by the
// receivers of a test. servertest.Receiver keeps every request and queues it
// for the test to take one by one (and blocks once 1,024 wait); the tens of
// thousands of deliveries here want counts, not a queue.
type countingReceiver struct {
	*httptest.Server
	verifier atomic.Pointer[webhook.Verifier]
	total    *atomic.Int64
	// held, while set, keeps each answer until it is closed: a test holds
	// the answers so that a process killed then has requests in flight
	// however fast the receivers usually answer.
	held atomic.Pointer[chan struct{}]

	mu      sync.Mutex
	seen    map[string]*arrivals
	invalid []string
}

type arrivals struct {
	n           int
	first, last time.Time
}

func newCountingReceiver(t *testing.T, total *atomic.Int64) *countingReceiver {
	rc := &countingReceiver{seen: map[string]*arrivals{}, total: total}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		now := time.Now()
		id := r.Header.Get("webhook-id")
		var bad error
		switch v := rc.verifier.Load(); {
		case err != nil:
			bad = err
		case v == nil:
			bad = errors.New("no secret trusted yet")
		default:
			ev, err := v.Parse(r.Header, body)
			switch {
			case err != nil:
				bad = err
			case ev.ID != id:
				bad = fmt.Errorf("body id %s differs from webhook-id", ev.ID)
			}
		}
		rc.mu.Lock()
		if bad != nil {
			rc.invalid = append(rc.invalid, fmt.Sprintf("%s: %v", id, bad))
		} else {
			a := rc.seen[id]
			if a == nil {
				a = &arrivals{first: now}
				rc.seen[id] = a
			}
			a.n++
			a.last = now
		}
		rc.mu.Unlock()
		if bad != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.total.Add(1)
		if held := rc.held.Load(); held != nil {
			select {
			case <-*held:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true}`))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *countingReceiver) trust(t *testing.T, secret string) {
	t.Helper()
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	rc.verifier.Store(v)
}

// snapshot copies the arrivals and the invalid requests.
func (rc *countingReceiver) snapshot() (map[string]arrivals, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]arrivals, len(rc.seen))
	for id, a := range rc.seen {
		out[id] = *a
	}
	return out, append([]string(nil), rc.invalid...)
}

func (rc *countingReceiver) distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen)
}

// openAdmin connects to the test's schema directly, for reading the
// delivery log and for terminating Herald's backends.
func openAdmin(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", withQuery(t, dbURL, "application_name", "herald_test_admin"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

type pair struct{ event, endpoint string }

var logProblem = regexp.MustCompile(`level=(WARN|ERROR) msg=("[^"]*"|\S+)`)

// problemsLogged counts a process's warnings and errors by message.
func problemsLogged(stderr string) string {
	counts := map[string]int{}
	for _, m := range logProblem.FindAllStringSubmatch(stderr, -1) {
		counts[m[1]+" "+strings.Trim(m[2], `"`)]++
	}
	if len(counts) == 0 {
		return "none"
	}
	var parts []string
	for msg, n := range counts {
		parts = append(parts, fmt.Sprintf("%d× %s", n, msg))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func TestAClusterOfThreeProcessesDeliversEverythingOnceAndSurvivesAKill9(t *testing.T) {
	dbURL := pgtest.URL(t)
	const (
		events    = 5000
		endpoints = 5
		total     = events * endpoints
		workers   = 16
		lease     = 10 * time.Second
	)
	t0 := time.Now()
	admin := openAdmin(t, dbURL)
	bin := heraldBinary(t)
	tBuilt := time.Now()

	// Three processes start at once: the migration lock lets one migrate
	// while the others wait.
	run := "herald_cluster_" + randomHex(t, 4)
	procs := make([]*pgProc, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = startPGProcess(t, bin, fmt.Sprintf("herald-%d", i), dbURL,
				fmt.Sprintf("%s_%d", run, i), "--lease", lease.String())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	owners := map[string]string{}
	for _, p := range procs {
		if other, dup := owners[p.owner]; dup || p.owner == "" {
			t.Fatalf("lease owners are not distinct: %s and %s both %q", other, p.name, p.owner)
		}
		owners[p.owner] = p.name
	}
	tStarted := time.Now()

	servertest.Must(procs[0].api.CreateTenant(t.Context(), &client.TenantCreate{ID: "acme", Name: "Acme"}))(t)
	var received atomic.Int64
	rcs := make([]*countingReceiver, endpoints)
	epIDs := make([]string, endpoints)
	for i := range rcs {
		rcs[i] = newCountingReceiver(t, &received)
		// Endpoints are created on different processes: each process
		// must find the others' endpoints in the database.
		ep := servertest.Must(procs[i%3].api.WithScope("acme", "production").CreateEndpoint(t.Context(), &client.EndpointCreate{
			URL: rcs[i].URL + "/hook", Name: fmt.Sprintf("receiver %d", i), TimeoutMS: client.Ptr(2000), MaxConcurrency: client.Ptr(32),
		}))(t)
		rcs[i].trust(t, ep.Secret)
		epIDs[i] = ep.ID
	}

	// Who holds leases, sampled through the run: the deliveries table does
	// not say who sent what once it is recorded, so the spread is shown by
	// each process holding claimed deliveries at some point.
	type leaseSample struct {
		afterKill bool
		owner     string
		n         int
	}
	var (
		samplesMu sync.Mutex
		samples   []leaseSample
		killed    atomic.Bool
	)
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
			after := killed.Load()
			rows, err := admin.QueryContext(sampleCtx, `SELECT lease_owner, count(*) FROM deliveries WHERE lease_owner IS NOT NULL GROUP BY 1`)
			if err != nil {
				continue
			}
			for rows.Next() {
				s := leaseSample{afterKill: after}
				if rows.Scan(&s.owner, &s.n) == nil {
					samplesMu.Lock()
					samples = append(samples, s)
					samplesMu.Unlock()
				}
			}
			rows.Close()
		}
	}()
	defer func() { stopSampling(); <-sampled }()

	// Publish from 16 goroutines, each event to the processes in turn.
	pub := &publisher{tenant: "acme", env: "production", maxWait: 250 * time.Millisecond}
	pub.setTargets(procs)
	ids := make([]string, events)
	var next atomic.Int64
	pubCtx, cancelPub := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancelPub()
	pubErr := make(chan error, workers)
	tPublish := time.Now()
	var publishers sync.WaitGroup
	for w := 0; w < workers; w++ {
		publishers.Add(1)
		go func() {
			defer publishers.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= events {
					return
				}
				ev := client.PublishEvent{Type: "cluster.test", Data: servertest.JSON(map[string]int{"i": i}), IdempotencyKey: fmt.Sprintf("cluster-%d", i)}
				out, err := pub.publish(pubCtx, ev, i)
				if err != nil {
					pubErr <- err
					cancelPub()
					return
				}
				ids[i] = out.id
			}
		}()
	}
	publishDone := make(chan struct{})
	go func() { publishers.Wait(); close(publishDone) }()

	// Kill one process once ~30% of the deliveries have arrived.
	victim, survivors := procs[1], []*pgProc{procs[0], procs[2]}
	killAt := int64(total * 3 / 10)
	waitUntil := time.Now().Add(60 * time.Second)
	for received.Load() < killAt {
		if time.Now().After(waitUntil) {
			t.Fatalf("only %d of %d deliveries arrived in 60 s; %d events accepted", received.Load(), total, pub.accepted.Load())
		}
		select {
		case err := <-pubErr:
			t.Fatal(err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	// Make sure the kill lands while the victim holds work: the receivers
	// hold their answers (for less than the endpoints' 2 s timeout) until
	// it holds a few leases. Without the hold a delivery takes a
	// millisecond or two and a fast claim and record can leave nothing in
	// flight at the moment of the kill.
	release := make(chan struct{})
	for _, rc := range rcs {
		rc.held.Store(&release)
	}
	for by := time.Now().Add(1500 * time.Millisecond); time.Now().Before(by); time.Sleep(2 * time.Millisecond) {
		var n int
		if err := admin.QueryRow(`SELECT count(*) FROM deliveries WHERE lease_owner = $1`, victim.owner).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 10 {
			break
		}
	}
	pub.setTargets(survivors)
	killed.Store(true)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tKill := time.Now()
	for _, rc := range rcs {
		rc.held.Store(nil)
	}
	close(release)
	receivedAtKill, acceptedAtKill := received.Load(), pub.accepted.Load()
	select {
	case <-victim.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the killed process did not exit")
	}
	// A transaction the process sent just before dying may still commit;
	// once its backends are gone, its leases are what it left in flight.
	backendsGone := false
	for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, victim.app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			backendsGone = true
			break
		}
	}
	if !backendsGone {
		t.Logf("the killed process's backends were still there 5 s after the kill; reading its leases anyway")
	}
	inFlight := map[pair]time.Time{} // → the end of its lease
	var earliestLeaseEnd int64
	rows, err := admin.Query(`SELECT event_id, endpoint_id, next_attempt_at FROM deliveries WHERE lease_owner = $1`, victim.owner)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p pair
		var leaseEnd int64
		if err := rows.Scan(&p.event, &p.endpoint, &leaseEnd); err != nil {
			t.Fatal(err)
		}
		inFlight[p] = time.UnixMicro(leaseEnd)
		if earliestLeaseEnd == 0 || leaseEnd < earliestLeaseEnd {
			earliestLeaseEnd = leaseEnd
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	tInFlightRead := time.Now()
	if len(inFlight) > 0 {
		if left := time.UnixMicro(earliestLeaseEnd).Sub(tInFlightRead); left <= 0 {
			t.Fatalf("the killed process's leases were read %s after the first of them ran out: too late to tell what was in flight", -left)
		} else {
			t.Logf("in flight on %s (%s) at the kill: %d deliveries; read %s after the kill, %s before the first lease ran out",
				victim.name, victim.owner, len(inFlight), tInFlightRead.Sub(tKill).Round(time.Millisecond), left.Round(time.Millisecond))
		}
	}

	select {
	case <-publishDone:
	case err := <-pubErr:
		t.Fatal(err)
	}
	select {
	case err := <-pubErr:
		t.Fatal(err)
	default:
	}
	tPublished := time.Now()

	// Everything arrives.
	deliverBy := time.Now().Add(60 * time.Second)
	for {
		all := true
		for _, rc := range rcs {
			if rc.distinct() < events {
				all = false
			}
		}
		if all {
			break
		}
		if time.Now().After(deliverBy) {
			var counts []int
			for _, rc := range rcs {
				counts = append(counts, rc.distinct())
			}
			t.Fatalf("not everything arrived: distinct events per receiver %v, want %d each", counts, events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tDelivered := time.Now()

	// The delivery log catches up: every delivery succeeded.
	var notDone int
	for logBy := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := admin.QueryRow(`SELECT count(*) FROM deliveries WHERE status <> 'succeeded' OR lease_owner IS NOT NULL`).Scan(&notDone); err != nil {
			t.Fatal(err)
		}
		if notDone == 0 {
			break
		}
		if time.Now().After(logBy) {
			t.Fatalf("%d deliveries are still not recorded as succeeded 20 s after everything arrived", notDone)
		}
	}
	tLogged := time.Now()
	// Nothing is pending, so nothing more can be sent; a moment for a
	// request already on the wire to land before the receivers are read.
	time.Sleep(300 * time.Millisecond)
	stopSampling()
	<-sampled

	// What was published: every accepted id once, no event duplicated by a
	// retried publish.
	want := map[string]bool{}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("event %d has no id", i)
		}
		want[id] = true
	}
	if len(want) != events {
		t.Fatalf("%d distinct event ids for %d events", len(want), events)
	}
	var nEvents, nDeliveries int
	if err := admin.QueryRow(`SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries)`).Scan(&nEvents, &nDeliveries); err != nil {
		t.Fatal(err)
	}
	if nEvents != events || nDeliveries != total {
		t.Fatalf("the database holds %d events and %d deliveries, want %d and %d (a retried publish duplicated?)", nEvents, nDeliveries, events, total)
	}

	// What the receivers saw: every pair, validly signed; a pair more than
	// once only if it was in flight on the killed process.
	got := map[pair]int{}
	var lastTakeover time.Time
	var early []string
	for i, rc := range rcs {
		seen, invalid := rc.snapshot()
		if len(invalid) > 0 {
			t.Errorf("receiver %d: %d requests failed verification, e.g. %s", i, len(invalid), invalid[0])
		}
		for id, a := range seen {
			if !want[id] {
				t.Errorf("receiver %d got event %s, which was never published", i, id)
				continue
			}
			p := pair{id, epIDs[i]}
			got[p] = a.n
			if leaseEnd, ok := inFlight[p]; ok {
				if a.last.After(lastTakeover) {
					lastTakeover = a.last
				}
				// Taken over only once the lease ran out: never sent by
				// two processes at once.
				if a.n > 1 && a.last.Before(leaseEnd) {
					early = append(early, fmt.Sprintf("%s→%s sent again %s before its lease ended", id, p.endpoint, leaseEnd.Sub(a.last)))
				}
			}
		}
	}
	duplicates, duplicateDeliveries, outside := 0, 0, []string(nil)
	for p, n := range got {
		if n > 1 {
			duplicates++
			duplicateDeliveries += n - 1
			if _, ok := inFlight[p]; !ok {
				outside = append(outside, fmt.Sprintf("%s→%s ×%d", p.event, p.endpoint, n))
			}
		}
	}
	if len(got) != total {
		t.Fatalf("%d distinct (event, endpoint) pairs arrived, want %d", len(got), total)
	}
	inFlightArrived := 0
	for p := range inFlight {
		if got[p] > 0 {
			inFlightArrived++
		}
	}
	t.Logf("duplicates: %d pairs arrived more than once (%d extra requests); %d pairs were in flight on the killed process, all %d arrived",
		duplicates, duplicateDeliveries, len(inFlight), inFlightArrived)
	if len(early) > 0 {
		t.Errorf("%d in-flight deliveries of the killed process were sent again before their lease ran out, e.g. %v", len(early), early[:min(5, len(early))])
	}
	if len(inFlight) == 0 {
		t.Errorf("nothing was in flight on the killed process: the kill did not land mid-load")
	}

	// The delivery log agrees with the receivers: one attempt row per
	// counted attempt, one attempt per arrival for a pair that arrived once;
	// attempts the killed process made but never recorded are not counted,
	// so a duplicated pair has at most as many attempts as arrivals.
	rows, err = admin.Query(`SELECT d.event_id, d.endpoint_id, d.status, d.attempts, count(a.id),
			coalesce(string_agg(a.response_status || ' ' || a.error_class || ' ' || a.error, '; ' ORDER BY a.number), '')
		FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
		GROUP BY d.id, d.event_id, d.endpoint_id, d.status, d.attempts`)
	if err != nil {
		t.Fatal(err)
	}
	var disagreements []string
	attemptsTotal := 0
	attemptLog := map[pair]string{}
	for rows.Next() {
		var p pair
		var status string
		var attempts, attemptRows int
		var log string
		if err := rows.Scan(&p.event, &p.endpoint, &status, &attempts, &attemptRows, &log); err != nil {
			t.Fatal(err)
		}
		attemptLog[p] = log
		attemptsTotal += attempts
		n := got[p]
		switch {
		case status != "succeeded":
			disagreements = append(disagreements, fmt.Sprintf("%v: status %s", p, status))
		case attempts != attemptRows:
			disagreements = append(disagreements, fmt.Sprintf("%v: attempts %d but %d attempt rows", p, attempts, attemptRows))
		case attempts < 1:
			disagreements = append(disagreements, fmt.Sprintf("%v: no attempt recorded, received %d times", p, n))
		case n == 1 && attempts != 1:
			disagreements = append(disagreements, fmt.Sprintf("%v: received once, %d attempts logged", p, attempts))
		case attempts > n:
			disagreements = append(disagreements, fmt.Sprintf("%v: received %d times, %d attempts logged", p, n, attempts))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(outside) > 0 {
		sort.Strings(outside)
		for i, o := range outside[:min(5, len(outside))] {
			var p pair
			p.event, p.endpoint, _ = strings.Cut(strings.Fields(o)[0], "→")
			outside[i] = o + " (attempts logged: " + attemptLog[p] + ")"
		}
		t.Errorf("%d pairs arrived more than once without having been in flight on the killed process, e.g. %v", len(outside), outside[:min(5, len(outside))])
	}
	if len(disagreements) > 0 {
		t.Errorf("the delivery log disagrees with the receivers on %d deliveries, e.g. %v", len(disagreements), disagreements[:min(5, len(disagreements))])
	}

	// The work was spread: every process held leases before the kill, and
	// both survivors after it.
	peak := map[bool]map[string]int{false: {}, true: {}}
	for _, s := range samples {
		peak[s.afterKill][s.owner] = max(peak[s.afterKill][s.owner], s.n)
	}
	for _, p := range procs {
		if peak[false][p.owner] == 0 {
			t.Errorf("%s never held a lease before the kill (samples: %v)", p.name, peak[false])
		}
	}
	for _, p := range survivors {
		if peak[true][p.owner] == 0 {
			t.Errorf("%s never held a lease after the kill (samples: %v)", p.name, peak[true])
		}
	}
	for _, p := range survivors {
		if !p.running() {
			t.Errorf("%s exited", p.name)
		}
	}
	named := func(m map[string]int) string {
		var parts []string
		for owner, n := range m {
			name := owners[owner]
			if name == "" {
				name = owner
			}
			parts = append(parts, fmt.Sprintf("%s:%d", name, n))
		}
		sort.Strings(parts)
		return strings.Join(parts, " ")
	}
	t.Logf("peak leases held, sampled every 100 ms: before the kill %s; after %s", named(peak[false]), named(peak[true]))
	t.Logf("publishes: %d accepted (%d replayed after a lost answer), %d connection errors, %d 503s, %d 5xx retried",
		pub.accepted.Load(), pub.replayed.Load(), pub.connErrors.Load(), pub.unavailable.Load(), pub.serverErrors.Load())
	if s := pub.firstServerError.Load(); s != nil {
		t.Errorf("a publish was answered %s", *s)
	}
	takeover := "n/a"
	if !lastTakeover.IsZero() {
		takeover = lastTakeover.Sub(tKill).Round(time.Millisecond).String()
	}
	t.Logf("timings: build %s, start 3 processes %s, publish %d events %s (%.0f/s), kill at %s with %d/%d deliveries and %d/%d events in, "+
		"last in-flight delivery taken over %s after the kill, all arrived %s after start of publishing, log settled %s later, %d attempts logged; total %s",
		tBuilt.Sub(t0).Round(time.Millisecond), tStarted.Sub(tBuilt).Round(time.Millisecond),
		events, tPublished.Sub(tPublish).Round(time.Millisecond), float64(events)/tPublished.Sub(tPublish).Seconds(),
		tKill.Sub(tPublish).Round(time.Millisecond), receivedAtKill, total, acceptedAtKill, events,
		takeover, tDelivered.Sub(tPublish).Round(time.Millisecond), tLogged.Sub(tDelivered).Round(time.Millisecond),
		attemptsTotal, time.Since(t0).Round(time.Millisecond))
}

func TestPostgreSQLOutageIsSurvivedWithoutARestart(t *testing.T) {
	dbURL := pgtest.URL(t)
	const (
		events  = 1000
		workers = 8
	)
	t0 := time.Now()
	admin := openAdmin(t, dbURL)
	app := "herald_outage_" + randomHex(t, 6)
	p, err := startPGProcess(t, heraldBinary(t), "herald", dbURL, app, "--lease", "10s")
	if err != nil {
		t.Fatal(err)
	}
	servertest.Must(p.api.CreateTenant(t.Context(), &client.TenantCreate{ID: "acme", Name: "Acme"}))(t)
	var received atomic.Int64
	rc := newCountingReceiver(t, &received)
	ep := servertest.Must(p.api.WithScope("acme", "production").CreateEndpoint(t.Context(), &client.EndpointCreate{
		URL: rc.URL + "/hook", TimeoutMS: client.Ptr(2000), MaxConcurrency: client.Ptr(32),
	}))(t)
	rc.trust(t, ep.Secret)

	pub := &publisher{tenant: "acme", env: "production", maxWait: 200 * time.Millisecond}
	pub.setTargets([]*pgProc{p})
	pubCtx, cancelPub := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelPub()

	// The outage: once publishing is under way, every Herald backend is
	// terminated every 50 ms for 2 s, the pool's and the listener's alike.
	const (
		outageFor   = 2 * time.Second
		outageEvery = 50 * time.Millisecond
	)
	var (
		outageStart, outageEnd atomic.Int64
		terminated, rounds     atomic.Int64
	)
	outageDone := make(chan error, 1)
	go func() {
		for pub.accepted.Load() < 100 {
			if pubCtx.Err() != nil {
				outageDone <- pubCtx.Err()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		outageStart.Store(start.UnixNano())
		for time.Since(start) < outageFor {
			var n int64
			if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
				outageDone <- err
				return
			}
			terminated.Add(n)
			rounds.Add(1)
			time.Sleep(outageEvery)
		}
		outageEnd.Store(time.Now().UnixNano())
		outageDone <- nil
	}()

	// Publishers are paced so that publishing lasts about three seconds
	// and straddles the outage.
	ids := make([]string, events)
	acceptedAt := make([]time.Time, events)
	var next atomic.Int64
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	tPublish := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= events {
					return
				}
				ev := client.PublishEvent{Type: "outage.test", Data: servertest.JSON(map[string]int{"i": i}), IdempotencyKey: fmt.Sprintf("outage-%d", i)}
				out, err := pub.publish(pubCtx, ev, i)
				if err != nil {
					errc <- err
					cancelPub()
					return
				}
				ids[i], acceptedAt[i] = out.id, out.at
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	tPublished := time.Now()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if err := <-outageDone; err != nil {
		t.Fatalf("outage: %v", err)
	}
	oStart, oEnd := time.Unix(0, outageStart.Load()), time.Unix(0, outageEnd.Load())
	during := 0
	for _, at := range acceptedAt {
		if at.After(oStart) && at.Before(oEnd) {
			during++
		}
	}
	t.Logf("outage: %d rounds of pg_terminate_backend over %s terminated %d backends; publishing took %s, %d of %d events accepted during the outage",
		rounds.Load(), oEnd.Sub(oStart).Round(time.Millisecond), terminated.Load(), tPublished.Sub(tPublish).Round(time.Millisecond), during, events)
	t.Logf("publishes: %d accepted (%d replayed after a lost answer), %d connection errors, %d 503s (%d with Retry-After), %d other 5xx",
		pub.accepted.Load(), pub.replayed.Load(), pub.connErrors.Load(), pub.unavailable.Load(), pub.unavailableWithRetryAfter.Load(), pub.serverErrors.Load())
	if terminated.Load() == 0 {
		t.Fatal("no backend was terminated: the outage did not happen")
	}
	if tPublished.Before(oEnd) {
		t.Logf("publishing ended before the outage did")
	}
	if pub.unavailableWithRetryAfter.Load() == 0 {
		t.Errorf("no publish was answered 503 with Retry-After during the outage (%d 503s in all)", pub.unavailable.Load())
	} else {
		t.Logf("first 503: %s", *pub.firstUnavailableRetryAfter.Load())
	}
	if s := pub.firstServerError.Load(); s != nil {
		t.Errorf("%d publishes were answered with a 5xx other than 503, e.g. %s", pub.serverErrors.Load(), *s)
	}

	// Everything accepted is delivered, without a restart.
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	if len(want) != events {
		t.Fatalf("%d distinct event ids for %d events", len(want), events)
	}
	for by := time.Now().Add(45 * time.Second); rc.distinct() < events; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(by) {
			t.Fatalf("only %d of %d accepted events arrived within 45 s of the end of publishing", rc.distinct(), events)
		}
	}
	tDelivered := time.Now()
	seen, invalid := rc.snapshot()
	if len(invalid) > 0 {
		t.Errorf("%d requests failed verification, e.g. %s", len(invalid), invalid[0])
	}
	dups := 0
	for id, a := range seen {
		if !want[id] {
			t.Errorf("event %s arrived but was never accepted", id)
		}
		if a.n > 1 {
			dups++
		}
	}
	var nEvents int
	if err := admin.QueryRow(`SELECT count(*) FROM events`).Scan(&nEvents); err != nil {
		t.Fatal(err)
	}
	if nEvents != events {
		t.Errorf("the database holds %d events, want %d (a retried publish duplicated?)", nEvents, events)
	}
	// The delivery log catches up by itself too.
	var notDone int
	for by := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := admin.QueryRow(`SELECT count(*) FROM deliveries WHERE status <> 'succeeded'`).Scan(&notDone); err != nil {
			t.Fatal(err)
		}
		if notDone == 0 {
			break
		}
		if time.Now().After(by) {
			t.Fatalf("%d deliveries are still not recorded as succeeded 20 s after everything arrived", notDone)
		}
	}
	tLogged := time.Now()

	// Still healthy: with the database back for a while, a fresh publish is
	// taken at the first try and delivered.
	if !p.running() {
		t.Fatal("herald exited")
	}
	if back := time.Until(oEnd.Add(1500 * time.Millisecond)); back > 0 {
		time.Sleep(back)
	}
	fresh := servertest.Must(p.api.WithScope("acme", "production").Publish(t.Context(),
		&client.PublishEvent{Type: "outage.after", Data: json.RawMessage(`{"fresh":true}`)}))(t)
	for by := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s, _ := rc.snapshot()
		if s[fresh.ID].n > 0 {
			break
		}
		if time.Now().After(by) {
			t.Fatalf("the event published after the outage (%s) did not arrive within 15 s", fresh.ID)
		}
	}
	t.Logf("duplicates: %d of %d events arrived more than once", dups, events)
	t.Logf("herald's warnings and errors: %s", problemsLogged(p.stderr.String()))
	t.Logf("timings: publish %s, all delivered %s after publishing ended, log settled %s later, fresh event delivered %s after that; total %s",
		tPublished.Sub(tPublish).Round(time.Millisecond), tDelivered.Sub(tPublished).Round(time.Millisecond),
		tLogged.Sub(tDelivered).Round(time.Millisecond), time.Since(tLogged).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
