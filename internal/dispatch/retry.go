package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// EventTypes lists the registered event types (the store): a type's own
// retry policy replaces the endpoint's for events of the type.
type EventTypes interface {
	ListEventTypes(ctx context.Context) ([]domain.EventType, error)
}

// typePoliciesTTL bounds how stale the event types' retry policies may be:
// a change made through the API (or by another process) applies within it.
const typePoliciesTTL = 5 * time.Second

// typePolicies keeps the event types' own retry policies, read again from
// the claim loop at most every typePoliciesTTL, never on the send path.
type typePolicies struct {
	src EventTypes
	log *slog.Logger

	mu      sync.RWMutex
	m       map[string]*domain.RetryPolicy
	fetched time.Time
}

// refresh reads the policies again when they are stale. A failed read
// keeps the ones read before (tried again at the next refresh).
func (t *typePolicies) refresh(ctx context.Context) {
	if t.src == nil {
		return
	}
	t.mu.RLock()
	fresh := time.Since(t.fetched) < typePoliciesTTL
	t.mu.RUnlock()
	if fresh {
		return
	}
	types, err := t.src.ListEventTypes(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fetched = time.Now()
	if err != nil {
		t.log.Warn("reading the event types' retry policies failed; keeping the last read", "err", err)
		return
	}
	m := make(map[string]*domain.RetryPolicy)
	for _, et := range types {
		if et.RetryPolicy != nil {
			m[et.Name] = et.RetryPolicy
		}
	}
	t.m = m
}

// policy is the retry policy of a delivery of an event of type typ to ep:
// the type's own when it has one, else the endpoint's.
func (t *typePolicies) policy(typ string, ep *endpoint) *domain.RetryPolicy {
	t.mu.RLock()
	p := t.m[typ]
	t.mu.RUnlock()
	if p != nil {
		return p
	}
	return &ep.RetryPolicy
}
