package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/webhook"
)

// The receiver runs in its own process (this binary, re-executed with the
// role variable set), so that its CPU is its own and Herald's /proc figures
// are Herald's alone. It listens on one control port and several hook ports:
// one port per endpoint, as ten customers would be ten servers, each with
// its own keep-alive pool in Herald's client.
//
// Hook paths: POST /h/<run>/<endpoint> answers 200 at once; POST
// /hang/<run>/<endpoint> never answers (it waits for the caller to give up).
// Every request's webhook-id is counted; the event's data carries the
// publish time ("t", unix nanoseconds) and a sequence number ("s"), so the
// receiver knows each delivery's publish-to-arrival latency and which
// deliveries are missing or repeated. The deliveries of one event in
// sampleEvery (sequence numbers 0, sampleEvery, …), at every endpoint, have
// their signatures verified and their bodies decoded: an envelope with the
// webhook package, a smart-kyc body by the Smart KYC document's recipe.

// roleEnv selects the receiver role when this binary is re-executed.
const roleEnv = "HERALD_BENCH_ROLE"

// sampleEvery: the deliveries of one event in this many are verified.
const sampleEvery = 100

// maxTimeline bounds the per-second arrival counts (one hour).
const maxTimeline = 3600

// receiverHello is the first line the receiver prints.
type receiverHello struct {
	Control string   `json:"control"`
	Hooks   []string `json:"hooks"`
}

// resetRequest starts a run: counters for endpoints × events.
type resetRequest struct {
	Run string `json:"run"`
	// Secrets are the endpoints' signing secrets, by endpoint index.
	Secrets []string `json:"secrets"`
	// Events is the number of sequence numbers per endpoint.
	Events int `json:"events"`
	// SmartKYC are the api_secret options of the endpoints with the
	// smart-kyc profile, by endpoint index; empty for the others.
	SmartKYC []string `json:"smart_kyc,omitempty"`
	// FailPercent, by endpoint index, is the share of requests answered
	// 500 at random (ordered); absent or 0: none.
	FailPercent []int `json:"fail_percent,omitempty"`
	// PerJob, when set, makes every PerJob sequence numbers one job
	// (seq / PerJob), published in order: the receiver counts the
	// deliveries that arrive before an earlier one of their job.
	PerJob int `json:"per_job,omitempty"`
}

// Report is what the receiver saw during one run.
type Report struct {
	Run string `json:"run"`
	// Requests is every hook request answered 200, repeats included.
	Requests int64 `json:"requests"`
	// Unique counts distinct (endpoint, event) pairs.
	Unique     int64 `json:"unique"`
	Duplicates int64 `json:"duplicates"`
	// PerEndpoint is unique deliveries by endpoint index.
	PerEndpoint []int64 `json:"per_endpoint"`
	// Hangs counts requests to the never-answering path.
	Hangs int64 `json:"hangs"`
	// Stale are requests of another run; Malformed had no readable t/s,
	// or a sequence number out of range.
	Stale     int64 `json:"stale"`
	Malformed int64 `json:"malformed"`
	// SigChecked requests were verified and decoded; SigFailed of them failed.
	SigChecked int64    `json:"sig_checked"`
	SigFailed  int64    `json:"sig_failed"`
	SigErrors  []string `json:"sig_errors,omitempty"`
	// SmartKYCRequests were to smart-kyc endpoints; SmartKYCChecked of
	// them were verified (and counted in SigChecked too).
	SmartKYCRequests int64 `json:"smart_kyc_requests,omitempty"`
	SmartKYCChecked  int64 `json:"smart_kyc_checked,omitempty"`
	// Refused are requests answered 500 on purpose (FailPercent); they
	// count nowhere else.
	Refused int64 `json:"refused,omitempty"`
	// OutOfOrder are deliveries taken before an earlier one of their job
	// (PerJob).
	OutOfOrder int64 `json:"out_of_order,omitempty"`
	// FirstArrival and LastArrival are unix nanoseconds of the first and
	// last healthy request.
	FirstArrival int64 `json:"first_arrival_ns"`
	LastArrival  int64 `json:"last_arrival_ns"`
	// Latency is publish-to-arrival over every healthy request, in ms.
	Latency Percentiles `json:"latency_ms"`
	// LatencyBefore and LatencyAfter split Latency at the time the report
	// was asked to split at (/report?split=<unix ns>): the requests that
	// arrived before it and those that arrived after.
	LatencyBefore *Percentiles `json:"latency_before_split_ms,omitempty"`
	LatencyAfter  *Percentiles `json:"latency_after_split_ms,omitempty"`
	// Timeline counts arrivals per second since the reset.
	Timeline []int64 `json:"timeline,omitempty"`
}

// Percentiles of a distribution, in milliseconds.
type Percentiles struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// percentiles of nanosecond values; sorts vs in place.
func percentiles(vs []int64) Percentiles {
	if len(vs) == 0 {
		return Percentiles{}
	}
	slices.Sort(vs)
	at := func(q float64) float64 {
		i := int(q*float64(len(vs))+0.999999) - 1
		i = min(max(i, 0), len(vs)-1)
		return float64(vs[i]) / 1e6
	}
	var sum float64
	for _, v := range vs {
		sum += float64(v)
	}
	return Percentiles{N: len(vs), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999),
		Max: float64(vs[len(vs)-1]) / 1e6, Mean: sum / float64(len(vs)) / 1e6}
}

// runState is one run's counters; swapped whole on reset.
type runState struct {
	run       string
	started   time.Time
	events    int
	counts    [][]atomic.Uint32 // [endpoint][seq]
	perEP     []atomic.Int64
	verifiers []*webhook.Verifier
	smartKYC  []string
	fail      []int
	perJob    int
	// arrivedOfJob[endpoint][job] has bit i set once the job's delivery
	// at position i arrived.
	arrivedOfJob [][]atomic.Uint64

	requests, unique, dups, hangs, stale, malformed atomic.Int64
	sigChecked, sigFailed                           atomic.Int64
	kycRequests, kycChecked                         atomic.Int64
	refused, outOfOrder                             atomic.Int64
	first, last                                     atomic.Int64
	timeline                                        [maxTimeline]atomic.Int64

	latMu     sync.Mutex
	latencies []int64
	// arrivals[i] is when the request of latencies[i] arrived (unix ns).
	arrivals  []int64
	sigErrMu  sync.Mutex
	sigErrors []string
}

type receiver struct {
	state atomic.Pointer[runState]
	bufs  sync.Pool
}

// runReceiver is the receiver process's main.
func runReceiver(ports int) error {
	rc := &receiver{bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
	rc.state.Store(&runState{run: "-"})
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hello := receiverHello{Control: ctl.Addr().String()}
	hooks := http.HandlerFunc(rc.hook)
	for range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hello.Hooks = append(hello.Hooks, ln.Addr().String())
		srv := &http.Server{Handler: hooks, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
		go srv.Serve(ln) //nolint:errcheck // ends with the process
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /reset", rc.reset)
	mux.HandleFunc("GET /stats", rc.stats)
	mux.HandleFunc("GET /report", rc.report)
	go (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ctl) //nolint:errcheck
	out, _ := json.Marshal(hello)
	fmt.Println(string(out))
	// The parent holds our stdin: when it goes, so do we.
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

func (rc *receiver) reset(w http.ResponseWriter, r *http.Request) {
	var req resetRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(req.SmartKYC) > len(req.Secrets) || len(req.FailPercent) > len(req.Secrets) {
		http.Error(w, "more smart-kyc secrets or fail percentages than endpoints", http.StatusBadRequest)
		return
	}
	st := &runState{run: req.Run, started: time.Now(), events: req.Events, perJob: req.PerJob}
	st.smartKYC = make([]string, len(req.Secrets))
	copy(st.smartKYC, req.SmartKYC)
	st.fail = make([]int, len(req.Secrets))
	copy(st.fail, req.FailPercent)
	if req.PerJob > 64 {
		http.Error(w, "at most 64 events per job", http.StatusBadRequest)
		return
	}
	if req.PerJob > 0 {
		st.arrivedOfJob = make([][]atomic.Uint64, len(req.Secrets))
		for i := range st.arrivedOfJob {
			st.arrivedOfJob[i] = make([]atomic.Uint64, (req.Events+req.PerJob-1)/req.PerJob)
		}
	}
	st.counts = make([][]atomic.Uint32, len(req.Secrets))
	st.perEP = make([]atomic.Int64, len(req.Secrets))
	st.verifiers = make([]*webhook.Verifier, len(req.Secrets))
	for i, s := range req.Secrets {
		st.counts[i] = make([]atomic.Uint32, req.Events)
		v, err := webhook.NewVerifier(s)
		if err != nil {
			http.Error(w, fmt.Sprintf("secret %d: %v", i, err), http.StatusBadRequest)
			return
		}
		st.verifiers[i] = v
	}
	st.latencies = make([]int64, 0, min(req.Events*len(req.Secrets), 4<<20))
	st.arrivals = make([]int64, 0, cap(st.latencies))
	rc.state.Store(st)
	w.WriteHeader(http.StatusNoContent)
}

// stats is the cheap progress check the parent polls.
func (rc *receiver) stats(w http.ResponseWriter, _ *http.Request) {
	st := rc.state.Load()
	fmt.Fprintf(w, `{"run":%q,"requests":%d,"unique":%d,"hangs":%d,"last_arrival_ns":%d}`,
		st.run, st.requests.Load(), st.unique.Load(), st.hangs.Load(), st.last.Load())
}

func (rc *receiver) report(w http.ResponseWriter, r *http.Request) {
	st := rc.state.Load()
	rep := Report{
		Run: st.run, Requests: st.requests.Load(), Unique: st.unique.Load(), Duplicates: st.dups.Load(),
		Hangs: st.hangs.Load(), Stale: st.stale.Load(), Malformed: st.malformed.Load(),
		SigChecked: st.sigChecked.Load(), SigFailed: st.sigFailed.Load(),
		SmartKYCRequests: st.kycRequests.Load(), SmartKYCChecked: st.kycChecked.Load(),
		Refused: st.refused.Load(), OutOfOrder: st.outOfOrder.Load(),
		FirstArrival: st.first.Load(), LastArrival: st.last.Load(),
	}
	for i := range st.perEP {
		rep.PerEndpoint = append(rep.PerEndpoint, st.perEP[i].Load())
	}
	st.latMu.Lock()
	lat := slices.Clone(st.latencies)
	arrivals := slices.Clone(st.arrivals)
	st.latMu.Unlock()
	if split, err := strconv.ParseInt(r.URL.Query().Get("split"), 10, 64); err == nil {
		var before, after []int64
		for i, at := range arrivals {
			if at < split {
				before = append(before, lat[i])
			} else {
				after = append(after, lat[i])
			}
		}
		b, a := percentiles(before), percentiles(after)
		rep.LatencyBefore, rep.LatencyAfter = &b, &a
	}
	rep.Latency = percentiles(lat)
	st.sigErrMu.Lock()
	rep.SigErrors = slices.Clone(st.sigErrors)
	st.sigErrMu.Unlock()
	last := 0
	for i := range st.timeline {
		if st.timeline[i].Load() > 0 {
			last = i + 1
		}
	}
	for i := range last {
		rep.Timeline = append(rep.Timeline, st.timeline[i].Load())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}

// hook takes one delivery.
func (rc *receiver) hook(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	st := rc.state.Load()
	kind, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	run, epText, _ := strings.Cut(rest, "/")
	if kind == "hang" {
		if run == st.run {
			st.hangs.Add(1)
		}
		// Never answer: Herald's timeout ends the request.
		<-r.Context().Done()
		return
	}
	buf := rc.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(r.Body)
	defer rc.bufs.Put(buf)
	if err != nil {
		return
	}
	if run != st.run {
		w.WriteHeader(http.StatusOK)
		st.stale.Add(1)
		return
	}
	body := buf.Bytes()
	ep, err := strconv.Atoi(epText)
	t, seq, ok := dataTimeSeq(body)
	if err != nil || ep < 0 || ep >= len(st.counts) || !ok || seq < 0 || seq >= int64(st.events) {
		w.WriteHeader(http.StatusOK)
		st.malformed.Add(1)
		return
	}
	if f := st.fail[ep]; f > 0 && rand.IntN(100) < f {
		w.WriteHeader(http.StatusInternalServerError)
		st.refused.Add(1)
		return
	}
	w.WriteHeader(http.StatusOK)
	if st.perJob > 0 {
		st.checkOrder(ep, seq)
	}
	nanos := now.UnixNano()
	st.requests.Add(1)
	if st.counts[ep][seq].Add(1) == 1 {
		st.unique.Add(1)
		st.perEP[ep].Add(1)
	} else {
		st.dups.Add(1)
	}
	if sec := int(now.Sub(st.started) / time.Second); sec >= 0 && sec < maxTimeline {
		st.timeline[sec].Add(1)
	}
	for {
		f := st.first.Load()
		if (f != 0 && f <= nanos) || st.first.CompareAndSwap(f, nanos) {
			break
		}
	}
	for {
		l := st.last.Load()
		if l >= nanos || st.last.CompareAndSwap(l, nanos) {
			break
		}
	}
	st.latMu.Lock()
	st.latencies = append(st.latencies, nanos-t)
	st.arrivals = append(st.arrivals, nanos)
	st.latMu.Unlock()
	kycSecret := st.smartKYC[ep]
	if kycSecret != "" {
		st.kycRequests.Add(1)
	}
	if seq%sampleEvery == 0 {
		st.sigChecked.Add(1)
		var err error
		if kycSecret != "" {
			st.kycChecked.Add(1)
			err = checkSmartKYC(st.verifiers[ep], kycSecret, r.Header, body, t, seq)
		} else {
			err = checkSample(st.verifiers[ep], r.Header, body, t, seq)
		}
		if err != nil {
			st.sigFailed.Add(1)
			st.sigErrMu.Lock()
			if len(st.sigErrors) < 5 {
				st.sigErrors = append(st.sigErrors, err.Error())
			}
			st.sigErrMu.Unlock()
		}
	}
}

// checkOrder counts a delivery that arrived before an earlier one of its
// job had.
func (st *runState) checkOrder(ep int, seq int64) {
	pos := uint(seq % int64(st.perJob))
	before := st.arrivedOfJob[ep][seq/int64(st.perJob)].Or(1 << pos)
	if earlier := uint64(1)<<pos - 1; before&earlier != earlier {
		st.outOfOrder.Add(1)
	}
}

// checkSample verifies a request with the webhook package and checks that
// the envelope is what was published.
func checkSample(v *webhook.Verifier, h http.Header, body []byte, t, seq int64) error {
	ev, err := v.Parse(h, body)
	if err != nil {
		return err
	}
	if id := h.Get(webhook.HeaderID); ev.ID != id {
		return fmt.Errorf("envelope id %s differs from webhook-id %s", ev.ID, id)
	}
	var data struct {
		T int64 `json:"t"`
		S int64 `json:"s"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if data.T != t || data.S != seq {
		return fmt.Errorf("data t=%d s=%d, fast parse read t=%d s=%d", data.T, data.S, t, seq)
	}
	return nil
}

// checkSmartKYC verifies a smart-kyc delivery by the Smart KYC document's
// recipe (the lower-case hex HMAC-SHA256 of the raw body, keyed with the
// API secret as UTF-8 text), its Standard Webhooks signature too, and that
// its body is the document's shape holding the event that was published.
func checkSmartKYC(v *webhook.Verifier, secret string, h http.Header, body []byte, t, seq int64) error {
	if err := v.Verify(h, body); err != nil {
		return fmt.Errorf("standard webhooks: %w", err)
	}
	if got, want := h.Get("X-SmartKYC-Signature"), smartKYCSignature(secret, body); got != want {
		return fmt.Errorf("X-SmartKYC-Signature %q, the document's recipe gives %q", got, want)
	}
	var p struct {
		Event     string `json:"event"`
		Timestamp string `json:"timestamp"`
		TenantID  string `json:"tenantId"`
		Data      struct {
			T          int64  `json:"t"`
			S          int64  `json:"s"`
			Status     string `json:"status"`
			UserID     string `json:"userId"`
			WorkflowID string `json:"workflowId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("smart-kyc body: %w", err)
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
		return fmt.Errorf("smart-kyc timestamp: %w", err)
	}
	d := p.Data
	switch user := "u-" + strconv.FormatInt(seq, 10); {
	case p.Event != "submission.approved" || p.TenantID != benchTenant:
		return fmt.Errorf("smart-kyc event %q of tenant %q, want submission.approved of %s", p.Event, p.TenantID, benchTenant)
	case d.T != t || d.S != seq:
		return fmt.Errorf("data t=%d s=%d, fast parse read t=%d s=%d", d.T, d.S, t, seq)
	case d.Status != "approved" || d.UserID != user || d.WorkflowID != "wf_basic_kyc":
		return fmt.Errorf("smart-kyc data status %q, userId %q, workflowId %q; want approved, %s, wf_basic_kyc", d.Status, d.UserID, d.WorkflowID, user)
	}
	return nil
}

// smartKYCSignature is X-SmartKYC-Signature as the document's Node code
// computes it: createHmac("sha256", secret).update(payload).digest("hex").
func smartKYCSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

var dataPrefix = []byte(`"data":{"t":`)

// dataTimeSeq reads "t" and "s" from the envelope's data, which the
// publisher writes first, without decoding the whole body; it falls back to
// decoding for any other layout.
func dataTimeSeq(body []byte) (t, seq int64, ok bool) {
	if i := bytes.LastIndex(body, dataPrefix); i >= 0 {
		rest := body[i+len(dataPrefix):]
		if t, rest, ok = leadingInt(rest); ok {
			if rest, ok = bytes.CutPrefix(rest, []byte(`,"s":`)); ok {
				if seq, _, ok = leadingInt(rest); ok {
					return t, seq, true
				}
			}
		}
	}
	var env struct {
		Data struct {
			T *int64 `json:"t"`
			S *int64 `json:"s"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil || env.Data.T == nil || env.Data.S == nil {
		return 0, 0, false
	}
	return *env.Data.T, *env.Data.S, true
}

func leadingInt(b []byte) (int64, []byte, bool) {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, b, false
	}
	v, err := strconv.ParseInt(string(b[:n]), 10, 64)
	return v, b[n:], err == nil
}

// receiverProc is the parent's handle on the receiver process.
type receiverProc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	control string
	hooks   []string
	client  *http.Client
}

func startReceiver(ports int) (*receiverProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "receiver", "-ports", strconv.Itoa(ports))
	cmd.Env = append(os.Environ(), roleEnv+"=receiver")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("receiver did not start: %w", err)
	}
	var hello receiverHello
	if err := json.Unmarshal(line, &hello); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("receiver said %q: %w", line, err)
	}
	return &receiverProc{cmd: cmd, stdin: stdin, control: hello.Control, hooks: hello.Hooks, client: &http.Client{Timeout: 60 * time.Second}}, nil
}

func (p *receiverProc) pid() int { return p.cmd.Process.Pid }

// url of endpoint i's hook in a run; hang picks the never-answering path.
func (p *receiverProc) url(run string, i int, hang bool) string {
	kind := "h"
	if hang {
		kind = "hang"
	}
	return fmt.Sprintf("http://%s/%s/%s/%d", p.hooks[i%len(p.hooks)], kind, run, i)
}

func (p *receiverProc) reset(req resetRequest) error {
	body, _ := json.Marshal(req)
	resp, err := p.client.Post("http://"+p.control+"/reset", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("receiver reset: %s: %s", resp.Status, msg)
	}
	return nil
}

type receiverStats struct {
	Run         string `json:"run"`
	Requests    int64  `json:"requests"`
	Unique      int64  `json:"unique"`
	Hangs       int64  `json:"hangs"`
	LastArrival int64  `json:"last_arrival_ns"`
}

func (p *receiverProc) stats() (receiverStats, error) {
	var s receiverStats
	return s, p.get("/stats", &s)
}

func (p *receiverProc) report() (Report, error) {
	var r Report
	return r, p.get("/report", &r)
}

// reportSplit is report with the latencies also split at the given time:
// arrivals before it and after it.
func (p *receiverProc) reportSplit(at time.Time) (Report, error) {
	var r Report
	return r, p.get("/report?split="+strconv.FormatInt(at.UnixNano(), 10), &r)
}

func (p *receiverProc) get(path string, v any) error {
	resp, err := p.client.Get("http://" + p.control + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitUnique polls until the run has want unique deliveries (counted by
// count), or nothing new arrives for stall.
func (p *receiverProc) waitUnique(ctx context.Context, want int64, stall time.Duration, count func(receiverStats) int64) error {
	lastN, lastChange := int64(-1), time.Now()
	for {
		s, err := p.stats()
		if err != nil {
			return err
		}
		n := count(s)
		if n >= want {
			return nil
		}
		if n != lastN {
			lastN, lastChange = n, time.Now()
		} else if time.Since(lastChange) > stall {
			return fmt.Errorf("stalled: %d of %d deliveries arrived, none in the last %s", n, want, stall)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *receiverProc) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
