package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// Result is one scenario's figures on one store.
type Result struct {
	Scenario string `json:"scenario"`
	Store    string `json:"store"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`

	Endpoints   int `json:"endpoints"`
	Concurrency int `json:"max_concurrency"`
	Events      int `json:"events"`
	// Jobs is how many jobs the events belong to (ordered).
	Jobs int `json:"jobs,omitempty"`
	// Deliveries is how many healthy deliveries had to arrive.
	Deliveries int64 `json:"deliveries"`

	Publish  *publishStats `json:"publish,omitempty"`
	Received *Report       `json:"received,omitempty"`

	// Throughput is healthy deliveries a second over the arrival window
	// (first to last arrival).
	Throughput    float64 `json:"throughput_per_s"`
	WindowSeconds float64 `json:"window_s"`
	// DrainSeconds runs from the first publish (or the resume) to the last
	// arrival; AfterPublishSeconds from the last publish answer to it.
	DrainSeconds        float64     `json:"drain_s,omitempty"`
	AfterPublishSeconds float64     `json:"after_publish_s,omitempty"`
	Latency             Percentiles `json:"latency_ms"`

	// CPU is measured from just before publishing to the last arrival.
	CPU CPU `json:"cpu"`
	// CPUPerDeliveryMS is Herald's CPU per healthy delivery (ingest
	// included where publishing overlaps); for the ceiling, the bare
	// client's CPU per request.
	CPUPerDeliveryMS float64 `json:"cpu_per_delivery_ms"`
	// PostgresCPUPerDeliveryMS is PostgreSQL's CPU per healthy delivery,
	// on PostgreSQL.
	PostgresCPUPerDeliveryMS float64 `json:"postgres_cpu_per_delivery_ms,omitempty"`
	// PeakRSSMB is Herald's VmHWM over its whole life; SampledPeakRSSMB the
	// highest VmRSS seen every 100 ms.
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	SampledPeakRSSMB float64 `json:"sampled_peak_rss_mb"`

	// Backlog: the paused publish and the drain after the resume.
	Ingest *Phase `json:"ingest,omitempty"`
	Drain  *Phase `json:"drain,omitempty"`

	// Bad neighbour: the same run without the bad endpoint, and the ratio
	// of the healthy nine's throughput with it to without it.
	Baseline *Result `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`

	// Profiles: the rounds of one profile at a time, and their comparison.
	Profiles *ProfileRounds `json:"profiles,omitempty"`

	// Hostile: the clients' answers and the memory bound.
	Hostile *Hostile `json:"hostile,omitempty"`
	// SlowBody: the slow connections' fate and the API's meanwhile.
	SlowBody *SlowBody `json:"slow_body,omitempty"`
	// Commits: on PostgreSQL, the transactions that stored the events and
	// the server's WAL flushes meanwhile.
	Commits *commitFigures `json:"postgres_commits,omitempty"`
	// Saturation: the API kept busy, and how delivery kept pace.
	Saturation *Saturation `json:"saturation,omitempty"`

	HeraldWarnings int64    `json:"herald_log_warnings"`
	HeraldErrors   int64    `json:"herald_log_errors"`
	HeraldLastErr  string   `json:"herald_last_error,omitempty"`
	Profile        string   `json:"profile,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// Phase is part of a scenario measured on its own.
type Phase struct {
	Seconds float64 `json:"seconds"`
	// Rate is items (events ingested, deliveries drained) a second.
	Rate         float64 `json:"rate_per_s"`
	CPU          CPU     `json:"cpu"`
	CPUPerItemMS float64 `json:"herald_cpu_per_item_ms"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	// PeakRSSExact is true when VmHWM was reset at the phase's start, so
	// PeakRSSMB is the phase's own; otherwise it is sampled.
	PeakRSSExact bool `json:"peak_rss_exact"`
}

// runner runs scenarios against one store.
type runner struct {
	cfg     config
	bin     string
	tmp     string
	rc      *receiverProc
	store   string
	stamp   string
	runs    int
	logf    func(format string, args ...any)
	outDir  string
	machine Machine
}

// stage is one Herald lifetime on a fresh database.
type stage struct {
	r       *runner
	name    string
	h       *heraldProc
	drop    func() error
	run     string
	src     usageSource
	rss     *rssSampler
	begun   usage
	stopped bool
	// PostgreSQL: the schema's URL and the server's WAL flushes at begin.
	schemaURL string
	walBegun  int64
}

// stageFlags are the flags of the stages that need Herald's own. The
// ordered runs' receiver fails 30 % of requests at random, so five in a row
// come now and then and would open the endpoint's circuit for a minute:
// those runs measure order, not the breaker.
var stageFlags = map[string][]string{
	"ordered":          {"--breaker-threshold", "1000000000"},
	"ordered-baseline": {"--breaker-threshold", "1000000000"},
}

func (r *runner) startStage(ctx context.Context, name string, profile bool) (*stage, error) {
	r.runs++
	st := &stage{r: r, name: name, run: fmt.Sprintf("r%d", r.runs)}
	db := filepath.Join(r.tmp, fmt.Sprintf("%s-%d.db", name, r.runs))
	pg := isPostgres(r.cfg.database)
	if pg {
		u, drop, err := freshSchema(ctx, r.cfg.database)
		if err != nil {
			return nil, err
		}
		db, st.drop, st.schemaURL = u, drop, u
	}
	h, err := startHerald(r.bin, db, filepath.Join(r.tmp, fmt.Sprintf("%s-%d.log", name, r.runs)), profile, stageFlags[name]...)
	if err != nil {
		if st.drop != nil {
			_ = st.drop()
		}
		return nil, err
	}
	st.h = h
	if err := h.createTenant(ctx); err != nil {
		st.close()
		return nil, err
	}
	st.src = usageSource{heraldPID: h.pid(), receiverPID: r.rc.pid(), postgres: pg}
	st.rss = sampleRSS(h.pid(), 100*time.Millisecond)
	return st, nil
}

// endpointKind is what one endpoint of a scenario is.
type endpointKind int

const (
	// plain endpoints have the standard profile and answer at once.
	plain endpointKind = iota
	// hanging endpoints have the standard profile and never answer.
	hanging
	// smartKYC endpoints have the smart-kyc profile and answer at once.
	smartKYC
	// failing endpoints fail some requests at random and are retried
	// soon (ordered.go); failingOrdered ones are ordered by job too.
	failing
	failingOrdered
)

func (k endpointKind) profile() string {
	if k == smartKYC {
		return "smart-kyc"
	}
	return "standard"
}

// endpoints creates n endpoints at the receiver, of the kinds kind gives
// (all plain when nil), and the receiver's reset for them with events
// sequence numbers each.
func (st *stage) endpoints(ctx context.Context, n int, kind func(i int) endpointKind, events int) ([]createdEndpoint, resetRequest, error) {
	eps := make([]createdEndpoint, n)
	req := resetRequest{Run: st.run, Secrets: make([]string, n), SmartKYC: make([]string, n), Events: events}
	for i := range n {
		k := plain
		if kind != nil {
			k = kind(i)
		}
		spec := endpointSpec{
			URL: st.r.rc.url(st.run, i, k == hanging), Name: fmt.Sprintf("bench %d", i),
			MaxConcurrency: st.r.cfg.concurrency,
		}
		switch k {
		case hanging:
			spec.TimeoutMS = int(st.r.cfg.badTimeout / time.Millisecond)
		case smartKYC:
			// Text with a non-ASCII letter: the document keys the HMAC
			// with the secret's UTF-8 bytes, and the receiver checks that.
			req.SmartKYC[i] = "skyc_bench_é_" + rand.Text()
			spec.Profile, spec.ProfileOptions = k.profile(), map[string]string{"api_secret": req.SmartKYC[i]}
		case failing, failingOrdered:
			st.failing(&spec, &req, i, k == failingOrdered)
		}
		ep, err := st.h.createEndpoint(ctx, spec)
		if err != nil {
			return nil, req, err
		}
		eps[i], req.Secrets[i] = ep, ep.Secret
	}
	return eps, req, nil
}

// readyStage starts a stage with n endpoints of the kinds kind gives and
// the receiver reset for them, events sequence numbers each: what a
// scenario that publishes at once needs. A stage that fails is closed.
func (r *runner) readyStage(ctx context.Context, name string, profile bool, n int, kind func(int) endpointKind, events int) (*stage, error) {
	st, err := r.startStage(ctx, name, profile)
	if err != nil {
		return nil, err
	}
	_, req, err := st.endpoints(ctx, n, kind, events)
	if err == nil {
		err = r.rc.reset(req)
	}
	if err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

func (st *stage) begin() {
	if st.schemaURL != "" {
		st.walBegun = walSyncs(context.Background(), st.r.cfg.database)
	}
	st.begun = st.src.snap()
}

// end reads Herald's figures into res, stops Herald and drops the schema.
func (st *stage) end(res *Result) {
	st.measure(res)
	st.close()
}

// measure reads Herald's CPU and memory into res.
func (st *stage) measure(res *Result) {
	now := st.src.snap()
	res.CPU = cpuBetween(st.begun, now)
	if hwm, err := procMemKB(st.h.pid(), "VmHWM"); err == nil {
		res.PeakRSSMB = float64(hwm) / 1024
	}
	res.SampledPeakRSSMB = float64(st.rss.Stop()) / 1024
	if st.schemaURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f := &commitFigures{WALSyncs: walSyncs(ctx, st.r.cfg.database) - st.walBegun}
		var err error
		if f.Events, f.EventCommits, err = eventCommits(ctx, st.schemaURL); err != nil {
			res.Notes = append(res.Notes, "counting commits: "+err.Error())
		}
		res.Commits = f
	}
	res.HeraldWarnings, res.HeraldErrors = st.h.warns.Load(), st.h.errs.Load()
	if v, ok := st.h.lastErr.Load().(string); ok {
		res.HeraldLastErr = v
	}
}

func (st *stage) close() {
	if st.stopped {
		return
	}
	st.stopped = true
	if st.rss != nil {
		select {
		case <-st.rss.stop:
		default:
			st.rss.Stop()
		}
	}
	if err := st.h.stop(); err != nil {
		st.r.logf("  herald %s: %v (log: %s)", st.name, err, st.h.log)
	}
	if st.drop != nil {
		if err := st.drop(); err != nil {
			st.r.logf("  %v", err)
		}
	}
}

// fill derives the delivery figures from the receiver's report.
func fill(res *Result, rep Report, from time.Time, publishEnd time.Time) {
	res.Received = &rep
	res.Latency = rep.Latency
	if rep.LastArrival > rep.FirstArrival {
		res.WindowSeconds = float64(rep.LastArrival-rep.FirstArrival) / 1e9
		res.Throughput = float64(rep.Unique) / res.WindowSeconds
	}
	if !from.IsZero() && rep.LastArrival > 0 {
		res.DrainSeconds = float64(rep.LastArrival-from.UnixNano()) / 1e9
	}
	if !publishEnd.IsZero() && rep.LastArrival > 0 {
		res.AfterPublishSeconds = float64(rep.LastArrival-publishEnd.UnixNano()) / 1e9
	}
	if rep.Unique > 0 {
		res.CPUPerDeliveryMS = res.CPU.Herald * 1000 / float64(rep.Unique)
		res.PostgresCPUPerDeliveryMS = res.CPU.Postgres * 1000 / float64(rep.Unique)
	}
}

// arrived fails res with the wait's error, if any, and fills it in from
// the receiver's report (from: when delivery was let go); false when
// there is no report.
func (r *runner) arrived(res *Result, werr error, from time.Time) (Report, bool) {
	if werr != nil {
		res.fail(werr.Error())
	}
	rep, err := r.rc.report()
	if err != nil {
		res.fail(err.Error())
		return rep, false
	}
	fill(res, rep, from, time.Time{})
	return rep, true
}

// check fails the result when the receiver's counts disagree with what was
// published.
func check(res *Result) {
	rep := res.Received
	switch {
	case rep == nil:
		res.fail("no report from the receiver")
	case rep.Unique != res.Deliveries:
		res.fail(fmt.Sprintf("%d of %d deliveries arrived", rep.Unique, res.Deliveries))
	case rep.Malformed > 0:
		res.fail(fmt.Sprintf("%d requests had unreadable data", rep.Malformed))
	case rep.SigFailed > 0:
		res.fail(fmt.Sprintf("%d of %d sampled signatures failed: %v", rep.SigFailed, rep.SigChecked, rep.SigErrors))
	case rep.SigChecked == 0 && rep.Requests >= sampleEvery:
		res.fail("no signature was checked")
	case rep.SmartKYCChecked == 0 && rep.SmartKYCRequests > 0:
		res.fail("no smart-kyc signature was checked")
	}
	if rep != nil && rep.Duplicates > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d duplicate deliveries (at least once: retries after timeouts or lease expiry)", rep.Duplicates))
	}
}

func (res *Result) fail(msg string) {
	res.OK = false
	if res.Error == "" {
		res.Error = msg
	} else {
		res.Error += "; " + msg
	}
}

const stall = 90 * time.Second

// ceiling drives the receiver with a bare net/http client: the same hook
// ports, the same concurrency (endpoints × max_concurrency), the same
// keep-alive pool settings as Herald's egress client, the same headers and
// an envelope of the same size, signed the same way.
func (r *runner) ceiling(ctx context.Context) *Result {
	n := r.cfg.endpoints
	perTarget := r.cfg.count(r.cfg.ceilingRequests, 100) / n
	res := &Result{Scenario: "ceiling", Store: r.store, OK: true, Endpoints: n, Concurrency: r.cfg.concurrency,
		Events: perTarget, Deliveries: int64(perTarget * n)}
	r.runs++
	run := fmt.Sprintf("r%d", r.runs)
	secrets := make([]string, n)
	signers := make([]*webhook.Signer, n)
	for i := range n {
		secrets[i], _ = webhook.NewSecret()
		signers[i], _ = webhook.NewSigner(secrets[i])
	}
	if err := r.rc.reset(resetRequest{Run: run, Secrets: secrets, Events: perTarget}); err != nil {
		res.fail(err.Error())
		return res
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	client := &http.Client{Transport: &http.Transport{
		DialContext: dialer.DialContext, MaxIdleConns: 1024, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true, DisableCompression: true,
	}}
	src := usageSource{receiverPID: r.rc.pid()}
	begun := src.snap()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	next := make([]atomic.Int64, n)
	start := time.Now()
	for i := range n {
		url := r.rc.url(run, i, false)
		for range r.cfg.concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := make([]byte, 0, 1024)
				sig := make([]byte, 0, 128)
				for {
					seq := next[i].Add(1) - 1
					if seq >= int64(perTarget) || ctx.Err() != nil {
						return
					}
					now := time.Now()
					id := fmt.Sprintf("evt_%026d", seq)
					body = ceilingEnvelope(body[:0], id, now, seq)
					ts := now.Unix()
					sig = signers[i].AppendSignature(sig[:0], id, ts, body)
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytesReader(body))
					h := req.Header
					h["Content-Type"] = []string{"application/json"}
					h["User-Agent"] = []string{"Herald/bench-ceiling"}
					h[webhook.HeaderID] = []string{id}
					h[webhook.HeaderTimestamp] = []string{strconv.FormatInt(ts, 10)}
					h[webhook.HeaderSignature] = []string{string(sig)}
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("receiver answered %s", resp.Status)
						}
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}()
		}
	}
	wg.Wait()
	res.CPU = cpuBetween(begun, src.snap())
	rep, err := r.rc.report()
	if err != nil {
		res.fail(err.Error())
		return res
	}
	fill(res, rep, start, time.Time{})
	res.CPUPerDeliveryMS = 0
	if rep.Unique > 0 {
		res.CPUPerDeliveryMS = res.CPU.Publisher * 1000 / float64(rep.Unique)
	}
	if f := failed.Load(); f > 0 {
		res.fail(fmt.Sprintf("%d requests failed, first: %v", f, firstErr.Load()))
	}
	check(res)
	client.CloseIdleConnections()
	return res
}

type byteReader struct {
	b []byte
	i int
}

func bytesReader(b []byte) *byteReader { return &byteReader{b: b} }

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func (r *byteReader) Len() int { return len(r.b) - r.i }

// ceilingEnvelope is an envelope as Herald renders it, with the
// publisher's data.
func ceilingEnvelope(b []byte, id string, now time.Time, seq int64) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","type":"verification.approved","timestamp":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","environment":"`+benchEnvironment+`","tenant_id":"`+benchTenant+`","data":`...)
	// appendEvent writes {"type":…,"data":{…}}; take its data object.
	ev := eventShape{}.appendEvent(nil, now.UnixNano(), seq)
	const pre = `{"type":"verification.approved","data":`
	b = append(b, ev[len(pre):len(ev)-1]...)
	return append(b, '}')
}

// burst publishes events fanned out to every endpoint as fast as Herald
// takes them, and waits until every delivery arrived.
func (r *runner) burst(ctx context.Context) *Result {
	events := r.cfg.count(r.cfg.burstEvents, 100)
	return r.fanout(ctx, "burst", events, r.cfg.endpoints, nil, r.cfg.profiles["burst"])
}

// fanout is burst's body, shared with bad neighbour and profiles.
func (r *runner) fanout(ctx context.Context, name string, events, n int, kind func(int) endpointKind, profile bool) *Result {
	return r.deliver(ctx, name, events, n, kind, profile, func(st *stage) (publishStats, error) {
		return publishBatches(ctx, st.h, r.cfg.shape, events, r.cfg.batch, r.cfg.publishers, n)
	})
}

// deliver is what fanout and steady share: a fresh Herald with n endpoints
// of the kinds kind gives (hanging ones answer nothing), publish, then wait
// until every delivery to a healthy endpoint has arrived, and measure.
func (r *runner) deliver(ctx context.Context, name string, events, n int, kind func(int) endpointKind, profile bool,
	publish func(*stage) (publishStats, error)) *Result {
	healthy := n
	for i := range n {
		if kind != nil && kind(i) == hanging {
			healthy--
		}
	}
	res := &Result{Scenario: name, Store: r.store, OK: true, Endpoints: n, Concurrency: r.cfg.concurrency,
		Events: events, Deliveries: int64(events * healthy)}
	st, err := r.readyStage(ctx, name, profile, n, kind, events)
	if err != nil {
		res.fail(err.Error())
		return res
	}
	defer st.close()
	prof := r.startProfile(res, st)
	st.begin()
	ps, err := publish(st)
	res.Publish = &ps
	if err != nil {
		res.fail("publish: " + err.Error())
		st.end(res)
		return res
	}
	// The events Herald took: all of them, except in hostile, where it
	// refuses some.
	res.Deliveries = int64(ps.Events * healthy)
	werr := r.rc.waitUnique(ctx, res.Deliveries, stall, func(s receiverStats) int64 { return s.Unique })
	st.measure(res)
	r.awaitProfile(res, prof)
	st.close()
	if werr != nil {
		res.fail(werr.Error())
	}
	rep, err := r.rc.report()
	if err != nil {
		res.fail(err.Error())
		return res
	}
	fill(res, rep, ps.start, ps.end)
	check(res)
	return res
}

// startProfile starts a CPU profile of the stage's Herald when the
// scenario asked for one.
func (r *runner) startProfile(res *Result, st *stage) <-chan error {
	if st.h.pprof == "" {
		return nil
	}
	res.Profile = filepath.Join(r.outDir, "profiles", fmt.Sprintf("%s-%s-%s.pprof", r.stamp, r.store, res.Scenario))
	_ = os.MkdirAll(filepath.Dir(res.Profile), 0o755)
	return st.h.profileCPU(r.cfg.profileSeconds, res.Profile)
}

// awaitProfile waits for a CPU profile (Herald must still run) and
// summarises it.
func (r *runner) awaitProfile(res *Result, prof <-chan error) {
	if prof == nil {
		return
	}
	if err := <-prof; err != nil {
		res.Notes = append(res.Notes, "profile: "+err.Error())
		res.Profile = ""
		return
	}
	r.summarizeProfile(res.Profile)
}

// summarizeProfile writes `go tool pprof -top` next to the profile.
func (r *runner) summarizeProfile(path string) {
	for _, mode := range []string{"-top", "-top -cum"} {
		args := append([]string{"tool", "pprof"}, append(strings.Fields(mode), "-nodecount=60", path)...)
		out, err := exec.Command("go", args...).CombinedOutput()
		suffix := ".top.txt"
		if mode != "-top" {
			suffix = ".cum.txt"
		}
		if err != nil {
			r.logf("  pprof %s: %v", mode, err)
			continue
		}
		_ = os.WriteFile(path+suffix, out, 0o644)
	}
}

// steady publishes single events at a fixed rate and measures
// publish-to-arrival latency.
func (r *runner) steady(ctx context.Context) *Result {
	return r.atRate(ctx, "steady", r.cfg.steadyRate, r.cfg.steadyEndpoints)
}

// singleSteady is steady in the shape platforms publish: one event per
// call, a few hundred a second, to one or two endpoints.
func (r *runner) singleSteady(ctx context.Context) *Result {
	return r.atRate(ctx, "single-steady", r.cfg.singleSteadyRate, r.cfg.singleSteadyEndpoints)
}

// atRate is steady's body: single events at rate a second to n endpoints,
// for the steady duration.
func (r *runner) atRate(ctx context.Context, name string, rate, n int) *Result {
	d := time.Duration(float64(r.cfg.steadyDuration) * r.cfg.scale)
	d = max(d, 2*time.Second)
	events := int(float64(rate) * d.Seconds())
	res := r.deliver(ctx, name, events, n, nil, r.cfg.profiles[name], func(st *stage) (publishStats, error) {
		return publishSteady(ctx, st.h, r.cfg.shape, rate, d, 64, n)
	})
	if res.Publish != nil && res.Publish.Rate < 0.95*float64(rate) {
		res.Notes = append(res.Notes, fmt.Sprintf("publisher reached only %.0f events/s of %d", res.Publish.Rate, rate))
	}
	return res
}

// single is the shape verification platforms publish in: many concurrent
// publishers, one event per POST /v1/events, to one endpoint. Run it with
// the ceiling for its share.
func (r *runner) single(ctx context.Context) *Result {
	events := r.cfg.count(r.cfg.singleEvents, 100)
	return r.deliver(ctx, "single", events, 1, nil, r.cfg.profiles["single"], func(st *stage) (publishStats, error) {
		return publishBatches(ctx, st.h, r.cfg.shape, events, 1, r.cfg.singlePublishers, 1)
	})
}

// backlog queues deliveries behind a paused endpoint, resumes it and
// measures the drain.
func (r *runner) backlog(ctx context.Context) *Result {
	return r.drain(ctx, "backlog", r.cfg.count(r.cfg.backlogDeliveries, 100), plain, r.cfg.profiles["backlog"])
}

// drain is backlog's body, shared with profiles: a fresh Herald with one
// endpoint of the given kind, paused while events are published to it,
// then resumed; the drain is measured on its own.
func (r *runner) drain(ctx context.Context, name string, events int, kind endpointKind, profile bool) *Result {
	res := &Result{Scenario: name, Store: r.store, OK: true, Endpoints: 1, Concurrency: r.cfg.concurrency,
		Events: events, Deliveries: int64(events)}
	st, err := r.startStage(ctx, name, profile)
	if err != nil {
		res.fail(err.Error())
		return res
	}
	defer st.close()
	eps, ps, err := r.pausedBacklog(ctx, st, kind, events)
	res.Publish = ps
	if err != nil {
		res.fail(err.Error())
		if ps != nil {
			st.end(res)
		}
		return res
	}
	// Let anything the dispatcher was doing settle, then check that the
	// pause held.
	time.Sleep(time.Second)
	paused := st.src.snap()
	ingest := &Phase{Seconds: ps.Seconds, Rate: ps.Rate, CPU: cpuBetween(st.begun, paused)}
	ingest.CPUPerItemMS = ingest.CPU.Herald * 1000 / float64(events)
	if hwm, err := procMemKB(st.h.pid(), "VmHWM"); err == nil {
		ingest.PeakRSSMB, ingest.PeakRSSExact = float64(hwm)/1024, true
	}
	res.Ingest = ingest
	if s, err := r.rc.stats(); err == nil && s.Unique > 0 {
		res.fail(fmt.Sprintf("%d deliveries arrived while the endpoint was paused", s.Unique))
	}
	drain := &Phase{PeakRSSExact: resetPeakRSS(st.h.pid()) == nil}
	drainRSS := sampleRSS(st.h.pid(), 100*time.Millisecond)
	prof := r.startProfile(res, st)
	resumed := time.Now()
	if err := st.h.setEndpointStatus(ctx, eps[0].ID, "active"); err != nil {
		res.fail(err.Error())
		drainRSS.Stop()
		st.end(res)
		return res
	}
	werr := r.rc.waitUnique(ctx, res.Deliveries, stall, func(s receiverStats) int64 { return s.Unique })
	drained := st.src.snap()
	sampled := float64(drainRSS.Stop()) / 1024
	if hwm, err := procMemKB(st.h.pid(), "VmHWM"); err == nil && drain.PeakRSSExact {
		drain.PeakRSSMB = float64(hwm) / 1024
	} else {
		drain.PeakRSSMB, drain.PeakRSSExact = sampled, false
	}
	drain.CPU = cpuBetween(paused, drained)
	st.measure(res)
	r.awaitProfile(res, prof)
	st.close()
	// VmHWM was reset for the drain: the whole life's peak is the larger.
	res.PeakRSSMB = max(res.PeakRSSMB, ingest.PeakRSSMB, drain.PeakRSSMB)
	rep, ok := r.arrived(res, werr, resumed)
	if !ok {
		return res
	}
	if rep.LastArrival > 0 {
		drain.Seconds = float64(rep.LastArrival-resumed.UnixNano()) / 1e9
		drain.Rate = float64(rep.Unique) / drain.Seconds
	}
	if rep.Unique > 0 {
		drain.CPUPerItemMS = drain.CPU.Herald * 1000 / float64(rep.Unique)
	}
	res.Drain = drain
	check(res)
	return res
}

// pausedBacklog makes one endpoint of the kind, pauses it, readies the
// receiver for it and publishes events to it in batches, measuring from
// just before the publish (st.begin). The stats are nil when the publish
// was not reached.
func (r *runner) pausedBacklog(ctx context.Context, st *stage, kind endpointKind, events int) ([]createdEndpoint, *publishStats, error) {
	eps, req, err := st.endpoints(ctx, 1, func(int) endpointKind { return kind }, events)
	if err != nil {
		return nil, nil, err
	}
	if err := st.h.setEndpointStatus(ctx, eps[0].ID, "paused"); err != nil {
		return nil, nil, err
	}
	if err := r.rc.reset(req); err != nil {
		return nil, nil, err
	}
	st.begin()
	ps, err := publishBatches(ctx, st.h, r.cfg.shape, events, r.cfg.batch, r.cfg.publishers, 1)
	if err != nil {
		return eps, &ps, fmt.Errorf("publish: %w", err)
	}
	return eps, &ps, nil
}

// badNeighbour runs the fan-out twice on fresh Heralds: to nine healthy
// endpoints, then to the same nine plus one that never answers.
func (r *runner) badNeighbour(ctx context.Context) *Result {
	events := r.cfg.count(r.cfg.badEvents, 100)
	n := r.cfg.endpoints
	base := r.fanout(ctx, "badneighbour-baseline", events, n-1, nil, false)
	res := r.fanout(ctx, "badneighbour", events, n, func(i int) endpointKind {
		if i == n-1 {
			return hanging
		}
		return plain
	}, r.cfg.profiles["badneighbour"])
	res.Baseline = base
	if !base.OK {
		res.fail("baseline: " + base.Error)
	}
	if base.Throughput > 0 {
		res.Ratio = res.Throughput / base.Throughput
	}
	if res.Received != nil && res.Received.Hangs == 0 && res.OK {
		res.fail("the bad endpoint was never called")
	}
	return res
}

// ProfileRounds compares a profile's delivery cost with standard's: the
// rounds alternate, each on a fresh Herald with one endpoint of one
// profile, so that Herald's CPU is that profile's alone.
type ProfileRounds struct {
	Standard []*Result `json:"standard"`
	SmartKYC []*Result `json:"smart_kyc"`
	// StandardMS and SmartKYCMS are the medians of the rounds' Herald CPU
	// per delivery over the drain; Ratio is smart-kyc's over standard's.
	StandardMS float64 `json:"standard_drain_cpu_per_delivery_ms"`
	SmartKYCMS float64 `json:"smart_kyc_drain_cpu_per_delivery_ms"`
	Ratio      float64 `json:"ratio"`
	// PairRatios are each round's smart-kyc over the standard run just
	// before it.
	PairRatios []float64 `json:"pair_ratios"`
}

// profiles sends the same events with the smart-kyc profile and with
// standard. First side by side, as burst does: one Herald, one endpoint
// of each on its own receiver port, every event to both. Two endpoints of
// one process cannot have their CPU told apart, so then rounds alternate,
// standard then smart-kyc, each a fresh Herald with one endpoint: the
// events are published while it is paused and Herald's CPU per delivery
// is taken over the drain, because publishing costs both profiles the
// same and would only dilute the difference.
func (r *runner) profiles(ctx context.Context) *Result {
	events := r.cfg.count(r.cfg.profilesEvents, 100)
	res := r.fanout(ctx, "profiles", events, 2, func(i int) endpointKind {
		if i == 1 {
			return smartKYC
		}
		return plain
	}, false)
	rounds := &ProfileRounds{}
	res.Profiles = rounds
	for round := range r.cfg.profilesRounds {
		for _, kind := range []endpointKind{plain, smartKYC} {
			if ctx.Err() != nil {
				return res
			}
			busy := waitIdle(r.cfg.waitIdle)
			name := "profiles-" + kind.profile()
			rr := r.drain(ctx, name, events, kind, round == 0 && r.cfg.profiles["profiles"])
			if busy != "" {
				rr.Notes = append(rr.Notes, busy)
			}
			r.logf("  %s, round %d: %s", name, round+1, oneLine(rr))
			if !rr.OK {
				res.fail(fmt.Sprintf("%s, round %d: %s", name, round+1, rr.Error))
			}
			if kind == plain {
				rounds.Standard = append(rounds.Standard, rr)
			} else {
				rounds.SmartKYC = append(rounds.SmartKYC, rr)
			}
		}
	}
	rounds.compare()
	return res
}

// each calls f with the rounds' runs in the order they ran, rounds counted
// from 1.
func (p *ProfileRounds) each(f func(round int, r *Result)) {
	for i := range max(len(p.Standard), len(p.SmartKYC)) {
		for _, rs := range [][]*Result{p.Standard, p.SmartKYC} {
			if i < len(rs) {
				f(i+1, rs[i])
			}
		}
	}
}

func (p *ProfileRounds) compare() {
	p.StandardMS, p.SmartKYCMS = medianDrainCPU(p.Standard), medianDrainCPU(p.SmartKYC)
	if p.StandardMS > 0 {
		p.Ratio = p.SmartKYCMS / p.StandardMS
	}
	for i := range min(len(p.Standard), len(p.SmartKYC)) {
		if a, b := p.Standard[i].Drain, p.SmartKYC[i].Drain; a != nil && b != nil && a.CPUPerItemMS > 0 {
			p.PairRatios = append(p.PairRatios, b.CPUPerItemMS/a.CPUPerItemMS)
		}
	}
}

// medianDrainCPU is the median of the drains' Herald CPU per delivery,
// over the rounds that drained.
func medianDrainCPU(rs []*Result) float64 {
	var vs []float64
	for _, r := range rs {
		if r.Drain != nil && r.Drain.CPUPerItemMS > 0 {
			vs = append(vs, r.Drain.CPUPerItemMS)
		}
	}
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	return vs[len(vs)/2]
}
