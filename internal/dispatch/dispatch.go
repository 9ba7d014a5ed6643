// Package dispatch is Herald's delivery pipeline: claim due deliveries in
// batches, run them through one lane per endpoint, send them, and record the
// outcomes in batches. Each stage has its own file.
package dispatch

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/limit"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/telemetry"
)

// Queue is the part of the store the dispatcher uses.
type Queue interface {
	Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error)
	EndpointsByID(ctx context.Context, ids []string) ([]domain.Endpoint, error)
	Record(ctx context.Context, outcomes []store.Outcome) error
	Release(ctx context.Context, owner string, deliveryIDs []string) error
	// GetDelivery reads a delivery with its attempts: an identical retry
	// sends its first attempt's signatures (keepFirstSignatures).
	GetDelivery(ctx context.Context, s domain.Scope, id string) (*domain.Delivery, error)
	// TakeTokens takes from endpoints' rate limits (limit.Shared).
	limit.Tokens
}

// Transformer runs a body transform (transform.Pool: in a worker process,
// bounded in time, output and memory). Its failures are *transform.Error.
type Transformer interface {
	Run(ctx context.Context, src string, envelope []byte) ([]byte, error)
}

// Config tunes the dispatcher; zero values take the defaults.
type Config struct {
	// Owner names this process in leases.
	Owner string
	// Lease is how long a claimed delivery is ours. An attempt's timeout is
	// cut to fit inside it. Default 60 s.
	Lease time.Duration
	// Batch is the most deliveries one claim takes. Default 1024: on
	// SQLite a claim waits for the publish ahead of it in the one writer
	// (a 1,000-event batch to ten endpoints holds it for a few hundred
	// milliseconds), so what one claim takes bounds delivery while
	// publishers are busy.
	Batch int
	// MaxInFlight bounds claimed-but-unrecorded deliveries, which bounds
	// memory whatever the backlog. Default 2048.
	MaxInFlight int
	// Poll is how often an idle dispatcher looks for retries that fell due.
	// Default 1 s; publishes wake it at once.
	Poll time.Duration
	// Grace is how long shutdown lets attempts in flight finish. Default 30 s.
	Grace time.Duration
	// RetryAfterCap bounds how far a receiver's Retry-After can push the
	// next attempt. Default 1 h.
	RetryAfterCap time.Duration
	// UserAgent is sent with every delivery.
	UserAgent string
	// Tracing makes a span of every attempt; nil is tracing off.
	Tracing *telemetry.Tracing
	// Transforms runs endpoints' body transforms (a transform.Pool); without
	// it an endpoint with a transform fails every attempt.
	Transforms Transformer
	Logger     *slog.Logger
	// Metrics counts attempts; nil counts nothing.
	Metrics Metrics
	// EventTypes, when set, gives the event types' own retry policies,
	// which replace the endpoints' for events of those types.
	EventTypes EventTypes
	// Signals hears of endpoints' health changing (circuit opened,
	// disabled, recovered) and of deliveries running out of attempts; nil
	// tells nobody.
	Signals Signals
	// Breaker is the circuit breaker and auto-disable policy every attempt
	// counts toward (the store keeps each endpoint's state); zero fields
	// take domain.DefaultBreaker's.
	Breaker domain.Breaker
	// Now is the clock of claims and attempts' times (tests move it);
	// default time.Now. Durations are measured on the real clock.
	Now func() time.Time
}

// Signals is told of operational events as they happen; it must not block
// (internal/signals stores them as events of their own).
type Signals interface {
	Signal(ctx context.Context, s domain.Signal)
}

type noSignals struct{}

func (noSignals) Signal(context.Context, domain.Signal) {}

// Metrics learns the outcome of every attempt (internal/metrics).
type Metrics interface {
	Attempted(o *store.Outcome)
	TookOver(n int)
	HandedOver(n int)
}

type noMetrics struct{}

func (noMetrics) Attempted(*store.Outcome) {}
func (noMetrics) TookOver(int)             {}
func (noMetrics) HandedOver(int)           {}

func (c *Config) defaults() {
	if c.Owner == "" {
		host, _ := os.Hostname()
		id := domain.NewID("")
		c.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), id[len(id)-6:])
	}
	if c.Lease <= 0 {
		c.Lease = 60 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 1024
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2048
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	if c.RetryAfterCap <= 0 {
		c.RetryAfterCap = time.Hour
	}
	if c.UserAgent == "" {
		c.UserAgent = "Herald"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Signals == nil {
		c.Signals = noSignals{}
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	def := domain.DefaultBreaker()
	c.Breaker.Threshold = cmp.Or(c.Breaker.Threshold, def.Threshold)
	c.Breaker.Window = cmp.Or(c.Breaker.Window, def.Window)
	c.Breaker.Cooldown = cmp.Or(c.Breaker.Cooldown, def.Cooldown)
	c.Breaker.DisableAfter = cmp.Or(c.Breaker.DisableAfter, def.DisableAfter)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Dispatcher delivers what the queue holds.
type Dispatcher struct {
	cfg    Config
	queue  Queue
	client *egress.Client
	log    *slog.Logger

	wake     chan struct{}
	freed    chan struct{}
	inFlight atomic.Int64
	// backlog is set when due deliveries may wait in the queue for room
	// (the last claim found work, or found no room or skipped a full
	// lane; a delivery could not be taken at publish; deliveries were
	// released). handedSince is set when deliveries were handed over at
	// publish since the last claim began. Room freed by a record wakes a
	// claim unless only handed-over deliveries came since a claim that
	// found nothing: then the claim would find nothing again, at the cost
	// of a transaction per record. Records that release the next delivery
	// of an ordered job, or a retry due already, wake a claim themselves
	// (wakeForRecorded).
	backlog, handedSince atomic.Bool

	// handed are deliveries handed over at publish (handoff.go), not yet
	// started; handedCh wakes the claim loop to start them.
	handMu     sync.Mutex
	handed     []store.Claimed
	handClosed bool
	handedCh   chan struct{}

	lanes     *lanes
	endpoints *endpointCache
	rec       *recorder
	types     *typePolicies
	// rates holds endpoints' rate limits for every process together;
	// waits ends when the claims stop, and with it every wait for a token.
	rates     *limit.Shared
	waits     context.Context
	stopWaits context.CancelFunc

	// sendCtx outlives the Run context by the grace period, so attempts in
	// flight at shutdown can finish; it ends when Run returns.
	sendCtx    context.Context
	cancelSend context.CancelFunc
	attempts   sync.WaitGroup

	// running is set while Run claims; beat is when the claim loop last
	// went round (Unix nanoseconds), for the readiness check.
	running atomic.Bool
	beat    atomic.Int64
}

// New builds a dispatcher; Run starts it.
func New(q Queue, client *egress.Client, cfg Config) *Dispatcher {
	cfg.defaults()
	d := &Dispatcher{
		cfg:       cfg,
		queue:     q,
		client:    client,
		log:       cfg.Logger.With("component", "dispatch"),
		wake:      make(chan struct{}, 1),
		freed:     make(chan struct{}, 1),
		handedCh:  make(chan struct{}, 1),
		endpoints: newEndpointCache(client),
	}
	d.types = &typePolicies{src: cfg.EventTypes, log: d.log}
	d.lanes = newLanes(d.attempt)
	d.rec = newRecorder(q, d.log, d.finished, func(outs []store.Outcome) {
		d.signalHealth(outs)
		d.wakeForRecorded(outs)
	})
	d.sendCtx, d.cancelSend = context.WithCancel(context.Background())
	d.rates = limit.NewShared(q)
	d.waits, d.stopWaits = context.WithCancel(context.Background())
	return d
}

// SendNow claims one delivery and attempts it here and now, recording the
// outcome before it returns: a test send answers with what happened.
func (d *Dispatcher) SendNow(ctx context.Context, deliveryID string) (store.Outcome, error) {
	claimed, err := d.queue.Claim(ctx, store.ClaimParams{
		Owner: d.cfg.Owner, Limit: 1, Lease: d.cfg.Lease, Now: d.cfg.Now(), DeliveryIDs: []string{deliveryID},
	})
	if err != nil {
		return store.Outcome{}, fmt.Errorf("send now: %w", err)
	}
	if len(claimed) == 0 {
		return store.Outcome{}, fmt.Errorf("send now: delivery %s is not due or its endpoint is not active", deliveryID)
	}
	eps, err := d.endpoints.get(ctx, d.queue, claimed)
	if err != nil {
		d.release(claimed)
		return store.Outcome{}, fmt.Errorf("send now: %w", err)
	}
	jobs, missing := prepareJobs(claimed, eps)
	if len(missing) > 0 {
		d.release(missing)
		return store.Outcome{}, fmt.Errorf("send now: endpoint of delivery %s is gone", deliveryID)
	}
	o, ok := d.send(&jobs[0])
	if !ok {
		d.release(claimed)
		return store.Outcome{}, fmt.Errorf("send now: shutting down")
	}
	d.trace(&jobs[0], &o)
	d.attempted(&o)
	outs := []store.Outcome{o}
	if err := d.queue.Record(ctx, outs); err != nil {
		return o, fmt.Errorf("send now: record: %w", err)
	}
	d.signalHealth(outs)
	return outs[0], nil
}

// Wake tells an idle dispatcher that work may be due now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Owner is the name this process's leases carry.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Run claims and delivers until ctx ends, then shuts down in order: stop
// claiming, give back what was not started, let attempts in flight finish
// (up to the grace period), record their outcomes.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer d.cancelSend()
	recDone := make(chan struct{})
	go func() {
		d.rec.run()
		close(recDone)
	}()

	d.claimLoop(ctx)
	d.stopWaits()
	d.closeHandoff()

	unstarted := d.lanes.close()
	d.release(unstarted)
	for range unstarted {
		d.attempts.Done()
	}
	done := make(chan struct{})
	go func() {
		d.attempts.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d.cfg.Grace):
		d.log.Warn("grace period over; abandoning attempts in flight (their leases will be taken back)")
		d.cancelSend()
		<-done
	}
	d.rec.close()
	<-recDone
	return nil
}

// Alive reports whether Run is claiming, and when its loop last went
// round: it does at least every Poll while idle, and after every claim
// while busy.
func (d *Dispatcher) Alive() (running bool, beat time.Time) {
	return d.running.Load(), time.Unix(0, d.beat.Load())
}

// claimGather is the least time between the starts of two claims that a
// publish's wake-up asks for. At a steady rate every publish wakes the
// dispatcher, and each claim would carry a delivery or two and pay its own
// transaction and commit; a wake-up that comes sooner than this after the
// last claim began waits for the rest of it, and the publishes meanwhile
// join the same claim. After a quiet spell the first wake-up claims at once.
const claimGather = 4 * time.Millisecond

func (d *Dispatcher) claimLoop(ctx context.Context) {
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	d.running.Store(true)
	defer d.running.Store(false)
	var began time.Time
	for ctx.Err() == nil {
		// Deliveries handed over while claims are busy start between
		// them.
		d.takeHanded(ctx)
		began = time.Now()
		d.beat.Store(began.UnixNano())
		full, err := d.claimOnce(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Error("claim failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if full {
			continue
		}
		d.await(ctx, poll.C, began)
	}
}

// await waits for a reason to claim again: a wake-up, room freed while
// work may wait for it, or the poll. Deliveries handed over meanwhile
// start as they come, with no claim.
func (d *Dispatcher) await(ctx context.Context, poll <-chan time.Time, began time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.handedCh:
			d.takeHanded(ctx)
		case <-d.wake:
			d.gather(ctx, began)
			return
		case <-d.freed:
			// Room freed by a record is a wake-up when work may
			// wait for it: records end at every rate.
			if d.backlog.Load() || !d.handedSince.Load() {
				d.gather(ctx, began)
				return
			}
		case <-poll:
			return
		}
	}
}

// gather holds a wake-up until claimGather after the last claim began; the
// wake-ups that come meanwhile are the same claim's.
func (d *Dispatcher) gather(ctx context.Context, began time.Time) {
	wait := claimGather - time.Since(began)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	select {
	case <-d.wake:
	default:
	}
}

// claimOnce claims what fits and hands it to the lanes. It reports whether
// more work is likely waiting: the claim was full, or took a whole round of
// some endpoint.
func (d *Dispatcher) claimOnce(ctx context.Context) (bool, error) {
	d.backlog.Store(false)
	d.handedSince.Store(false)
	limit := d.takeRoom(d.cfg.Batch)
	if limit == 0 {
		d.backlog.Store(true)
		return false, nil
	}
	claimed, err := d.queue.Claim(ctx, store.ClaimParams{
		Owner: d.cfg.Owner, Limit: limit, Lease: d.cfg.Lease, Now: d.cfg.Now(),
		Skip: func(endpointID string) bool {
			if d.lanes.saturated(endpointID) {
				d.backlog.Store(true)
				return true
			}
			return false
		},
	})
	if unused := limit - len(claimed); unused > 0 {
		d.inFlight.Add(-int64(unused))
	}
	if err != nil || len(claimed) == 0 {
		return false, err
	}
	// A claim that found work may have left more than it took (another
	// process's share of an endpoint, a rate limit): room freed by a
	// record wakes the next claim.
	d.backlog.Store(true)
	d.log.Debug("claimed deliveries", "deliveries", len(claimed), "limit", limit)
	d.tookOver(claimed)
	jobs, err := d.start(ctx, claimed)
	if err != nil {
		return false, err
	}
	return len(claimed) == limit || fullRound(jobs), nil
}

// takeRoom counts in flight up to most deliveries, as many as MaxInFlight
// leaves room for, and returns how many. A claim takes its room before it
// runs (what it does not take it gives back), and a delivery handed over
// at publish takes its own, so that the two together never hold more
// than MaxInFlight.
func (d *Dispatcher) takeRoom(most int) int {
	for {
		n := d.inFlight.Load()
		take := min(int64(d.cfg.MaxInFlight)-n, int64(most))
		if take <= 0 {
			return 0
		}
		if d.inFlight.CompareAndSwap(n, n+take) {
			return int(take)
		}
	}
}

// start sends claimed deliveries, counted in flight already, through their
// lanes: what a claim took, and what was handed over at publish.
func (d *Dispatcher) start(ctx context.Context, claimed []store.Claimed) ([]job, error) {
	d.types.refresh(ctx)
	now := d.cfg.Now()
	eps, err := d.endpoints.get(ctx, d.queue, claimed)
	if err != nil {
		d.release(claimed)
		return nil, err
	}
	jobs, missing := prepareJobs(claimed, eps)
	// A delivery whose endpoint is gone (deleted while the delivery was
	// being published) has nowhere to go: it is cancelled, not released,
	// or it would be claimed again and again.
	for _, c := range missing {
		o := store.Outcome{
			DeliveryID: c.DeliveryID, EndpointID: c.EndpointID, EventID: c.Event.ID, Status: domain.DeliveryCancelled,
			Scope: domain.Scope{TenantID: c.Event.TenantID, Environment: c.Event.Environment},
			Attempt: domain.Attempt{ID: domain.NewIDAt(domain.PrefixAttempt, now), DeliveryID: c.DeliveryID,
				Number: c.Attempts + 1, At: now, Error: "the endpoint was deleted"},
		}
		d.attempted(&o)
		d.rec.add(o)
	}
	for i := range jobs {
		d.attempts.Add(1)
		if !d.lanes.push(&jobs[i]) {
			d.attempts.Done()
			d.release([]store.Claimed{jobs[i].claimed})
		}
	}
	return jobs, nil
}

// fullRound reports whether a claim gave some endpoint the most one claim
// takes from an endpoint (store.ClaimRounds rounds of its concurrency
// limit): its queue may hold more, and the next claim takes it unless the
// lane is full.
func fullRound(jobs []job) bool {
	n := make(map[*endpoint]int, 8)
	for i := range jobs {
		ep := jobs[i].ep
		n[ep]++
		if n[ep] >= store.ClaimRounds*domain.LaneRound(ep.MaxConcurrency, ep.RateLimit) {
			return true
		}
	}
	return false
}

// release gives claimed deliveries back to the queue unattempted.
func (d *Dispatcher) release(cs []store.Claimed) {
	if len(cs) == 0 {
		return
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.DeliveryID
	}
	// A few tries: a release that fails holds the deliveries for the rest
	// of their lease, which after a database blip can be a minute.
	var err error
	for try, wait := 0, 200*time.Millisecond; try < 5; try, wait = try+1, 2*wait {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = d.queue.Release(ctx, d.cfg.Owner, ids)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(wait)
	}
	if err != nil {
		d.log.Warn("release failed; the leases will run out instead", "deliveries", len(ids), "err", err)
	}
	d.backlog.Store(true)
	d.finished(len(cs))
}

// finished frees in-flight capacity once outcomes are recorded or released.
func (d *Dispatcher) finished(n int) {
	d.inFlight.Add(-int64(n))
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// attempt is what a lane runs for each job.
func (d *Dispatcher) attempt(j *job) {
	defer d.attempts.Done()
	// Starting an attempt that may outlive the lease would risk a second
	// process sending the same delivery at the same time.
	latest := j.leaseEnd.Add(-d.timeout(j.ep) - 2*time.Second)
	if d.cfg.Now().After(latest) || !d.paced(j, latest) {
		d.release([]store.Claimed{j.claimed})
		return
	}
	o, ok := d.send(j)
	if !ok {
		d.release([]store.Claimed{j.claimed})
		return
	}
	d.trace(j, &o)
	d.attempted(&o)
	d.rec.add(o)
	d.signalExhausted(&j.claimed, &o)
	d.wakeForRetry(&o)
}

// wakeForRetry wakes the claim loop when a retry falls due before the
// next poll would find it (a schedule of milliseconds): with nothing else
// to claim it would wait up to a poll longer than its schedule says, and
// an ordered delivery's whole job with it (per-job order: 34 % of the
// unordered throughput on PostgreSQL with 50 ms retries, 80 % with this).
func (d *Dispatcher) wakeForRetry(o *store.Outcome) {
	if o.Status != domain.DeliveryPending {
		return
	}
	if wait := time.Until(o.NextAttemptAt); wait < d.cfg.Poll {
		time.AfterFunc(max(wait, 0), d.Wake)
	}
}

// wakeForRecorded wakes the claim loop once outcomes are recorded that
// made a delivery due before the poll would find it: the end of an
// ordered delivery (the next of its job is due) or a retry due already
// (wakeForRetry's wake-up may have come before the record).
func (d *Dispatcher) wakeForRecorded(outs []store.Outcome) {
	now := d.cfg.Now()
	for i := range outs {
		o := &outs[i]
		ended := o.OrderedJob != "" && o.Status != domain.DeliveryPending
		if ended || o.Status == domain.DeliveryPending && !o.NextAttemptAt.After(now) {
			d.Wake()
			return
		}
	}
}
