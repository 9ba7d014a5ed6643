// Package signals turns Herald's operational events (domain.Signal: an
// endpoint's circuit opened, it was disabled, it recovered, a delivery ran
// out of attempts) into events of their own, stored like any published
// event: in the tenant's environment, where the endpoints that subscribe to
// them receive them, and in the operator's scope (domain.OperatorScope),
// whose one endpoint is the operator webhook. From there the dispatcher
// delivers them, signed and retried, and a crash loses none that was stored.
//
// Signal returns at once: it hands the signal to a bounded queue that Run
// stores from. delivery.exhausted is coalesced per endpoint (Config.Window),
// so an endpoint that fails ten thousand deliveries makes a few events, not
// ten thousand.
package signals

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Store is the part of the store signals use.
type Store interface {
	Publish(ctx context.Context, s domain.Scope, pubs []store.Publication) ([]store.PublishResult, error)
	GetEndpoint(ctx context.Context, s domain.Scope, id string) (*domain.Endpoint, error)
}

// Config sets up Signals; zero values take the defaults.
type Config struct {
	Store Store
	// Operator copies every operational event to the operator's scope
	// (the operator webhook, set up by ConfigureOperator).
	Operator bool
	// Wake tells the dispatcher that deliveries are due now.
	Wake func()
	// Window is how often at most, after the first, an endpoint's
	// exhausted deliveries make a delivery.exhausted: the ones in between
	// are counted into the next one. Default 1 minute.
	Window time.Duration
	// Queue bounds the signals waiting to be stored; past it they are
	// dropped and logged. Default 1024.
	Queue  int
	Logger *slog.Logger
}

// Default settings.
const (
	DefaultWindow = time.Minute
	DefaultQueue  = 1024
)

// publishTries bounds the tries of one publish while the store fails.
const publishTries = 5

// drainTimeout bounds how long Run stores what is queued at shutdown.
const drainTimeout = 10 * time.Second

// saveTimeout bounds the storing of one event, its tries included.
const saveTimeout = 30 * time.Second

// Signals is dispatch.Signals: it stores operational events as events.
type Signals struct {
	cfg   Config
	log   *slog.Logger
	queue chan item

	mu      sync.Mutex
	windows map[string]*window
	dropped atomic.Int64
}

// item is one operational event to store: a signal, and for
// delivery.exhausted how many exhausted deliveries it stands for, the
// first of them at first.
type item struct {
	sig   domain.Signal
	count int
	first time.Time
}

// window is an endpoint's coalescing of delivery.exhausted: until until,
// exhausted deliveries are counted, and the last one is kept to name.
type window struct {
	until time.Time
	count int
	first time.Time
	last  domain.Signal
}

// New returns Signals; Run stores what it is told.
func New(cfg Config) *Signals {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Signals{
		cfg: cfg, log: cfg.Logger.With("component", "signals"),
		queue: make(chan item, cfg.Queue), windows: map[string]*window{},
	}
}

// Signal takes an operational event to store; it never blocks. A signal
// about the operator's own webhook is only logged: stored, it would be
// delivered to the very webhook it is about.
func (s *Signals) Signal(_ context.Context, sig domain.Signal) {
	if !domain.IsSignalType(sig.Type) {
		s.log.Error("not an operational event type; dropped", "type", sig.Type, "endpoint", sig.EndpointID)
		return
	}
	if sig.At.IsZero() {
		sig.At = time.Now()
	}
	sig.At = sig.At.UTC().Truncate(time.Microsecond)
	if sig.TenantID == domain.OperatorTenantID {
		s.log.Warn("an operational event about the operator webhook itself; not delivered", "type", sig.Type,
			"endpoint", sig.EndpointID, "reason", sig.Reason)
		return
	}
	if sig.Type == domain.SignalDeliveryExhausted && !s.admit(sig, time.Now()) {
		return
	}
	s.enqueue(item{sig: sig, count: 1, first: sig.At})
}

// admit reports whether an exhausted delivery makes an event now: the
// first of its endpoint, or the first after a quiet window. Otherwise it
// is counted into the event that ends its endpoint's window (flush).
func (s *Signals) admit(sig domain.Signal, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[sig.EndpointID]
	if w == nil || w.count == 0 && !now.Before(w.until) {
		s.windows[sig.EndpointID] = &window{until: now.Add(s.cfg.Window)}
		return true
	}
	if w.count == 0 {
		w.first = sig.At
	}
	w.count++
	w.last = sig
	return false
}

// flush turns each window that has ended (every one, with all) and counted
// exhausted deliveries into one event for them all, and opens the next
// window; a window that ended with nothing counted is forgotten.
func (s *Signals) flush(now time.Time, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, w := range s.windows {
		if !all && now.Before(w.until) {
			continue
		}
		if w.count > 0 {
			s.enqueue(item{sig: w.last, count: w.count, first: w.first})
		}
		if all || w.count == 0 {
			delete(s.windows, id)
			continue
		}
		w.count, w.until = 0, now.Add(s.cfg.Window)
	}
}

// enqueue hands an item to Run, or drops it when the queue is full: the
// dispatcher must never wait for the store on Herald's own events. Drops
// are logged at the 1st, 2nd, 4th, 8th… so a flood does not flood the log.
func (s *Signals) enqueue(it item) {
	select {
	case s.queue <- it:
	default:
		if n := s.dropped.Add(1); n&(n-1) == 0 {
			s.log.Warn("the operational events queue is full; dropped one", "type", it.sig.Type,
				"tenant", it.sig.TenantID, "endpoint", it.sig.EndpointID, "dropped_so_far", n)
		}
	}
}

// Run stores the queued operational events until ctx ends; then it counts
// what the open windows hold into events, and stores what is queued, for
// at most drainTimeout. Run it after the dispatcher has stopped, so that
// its last signals are stored too.
func (s *Signals) Run(ctx context.Context) {
	tick := time.NewTicker(max(s.cfg.Window/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case it := <-s.queue:
			// Not under ctx: an event being stored when Run is told to
			// stop is stored, not cut off.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
			s.save(sctx, it)
			cancel()
		case now := <-tick.C:
			s.flush(now, false)
		case <-ctx.Done():
			s.flush(time.Now(), true)
			s.drain()
			return
		}
	}
}

// drain stores what is queued, for at most drainTimeout.
func (s *Signals) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for {
		select {
		case it := <-s.queue:
			s.save(ctx, it)
		default:
			return
		}
	}
}

// save publishes an operational event in its tenant's environment and,
// with an operator webhook, in the operator's scope. Each is tried on its
// own: a failure of one does not lose the other.
func (s *Signals) save(ctx context.Context, it item) {
	sig := &it.sig
	sc := domain.Scope{TenantID: sig.TenantID, Environment: sig.Environment}
	var ep *domain.Endpoint
	if e, err := s.cfg.Store.GetEndpoint(ctx, sc, sig.EndpointID); err == nil {
		ep = e
	} else if !errors.Is(err, domain.ErrNotFound) {
		// The event still goes, without the endpoint's URL and name.
		s.log.Warn("reading the endpoint of an operational event failed", "endpoint", sig.EndpointID, "err", err)
	}
	data := eventData(&it, ep)
	scopes := []domain.Scope{sc}
	if s.cfg.Operator {
		scopes = append(scopes, domain.OperatorScope)
	}
	for _, to := range scopes {
		if err := s.publish(ctx, to, sig.Type, data); err != nil {
			s.log.Error("storing an operational event failed; it is lost", "type", sig.Type, "in_tenant", to.TenantID,
				"tenant", sig.TenantID, "environment", sig.Environment, "endpoint", sig.EndpointID,
				"delivery", sig.DeliveryID, "reason", sig.Reason, "err", err)
		}
	}
}

// publish stores one event, trying again while the store fails. Its
// idempotency key is the event's own id, so a try whose commit succeeded
// but whose answer was lost is not stored twice.
func (s *Signals) publish(ctx context.Context, sc domain.Scope, typ string, data []byte) error {
	now := domain.Now()
	ev := domain.Event{
		ID: domain.NewIDAt(domain.PrefixEvent, now), TenantID: sc.TenantID, Environment: sc.Environment,
		Type: typ, Data: data, CreatedAt: now,
	}
	sum := sha256.Sum256(data)
	pub := []store.Publication{{Event: ev, IdempotencyKey: "herald-" + ev.ID, RequestHash: sum[:]}}
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		res, err := s.cfg.Store.Publish(ctx, sc, pub)
		if err == nil {
			if res[0].Deliveries > 0 && !res[0].Replayed {
				s.cfg.Wake()
			}
			return nil
		}
		if try == publishTries || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
