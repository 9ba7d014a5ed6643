package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/webhook"
)

// job is one claimed delivery ready to send.
type job struct {
	claimed store.Claimed
	ep      *endpoint
	body    []byte
	// leaseEnd is when another process may take the delivery over; an
	// attempt that could not finish before it is not started.
	leaseEnd time.Time
	// fullBody is the receiver's answer as read (up to maxDrain), for the
	// success rule; the log keeps less.
	fullBody []byte
}

// endpoint is a domain.Endpoint prepared for sending: its signer is built
// once and reused while the endpoint is unchanged.
type endpoint struct {
	domain.Endpoint
	signer *webhook.Signer
	// previous signs too during a secret rotation's grace period.
	previous *webhook.Signer
}

// sign appends the webhook-signature value: one entry per secret in use.
func (e *endpoint) sign(dst []byte, id string, ts int64, body []byte, now time.Time) []byte {
	dst = e.signer.AppendSignature(dst, id, ts, body)
	if e.previous != nil && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		dst = append(dst, ' ')
		dst = e.previous.AppendSignature(dst, id, ts, body)
	}
	return dst
}

// endpointCache keeps prepared endpoints between claims.
type endpointCache struct {
	mu sync.Mutex
	m  map[string]*endpoint
}

func newEndpointCache() *endpointCache { return &endpointCache{m: map[string]*endpoint{}} }

// get returns the endpoints of a claimed batch, read fresh in one query so a
// change (URL, headers, secret) applies to the next batch.
func (c *endpointCache) get(ctx context.Context, q Queue, claimed []store.Claimed) (map[string]*endpoint, error) {
	ids := make([]string, 0, 8)
	seen := make(map[string]bool, 8)
	for _, cl := range claimed {
		if !seen[cl.EndpointID] {
			seen[cl.EndpointID] = true
			ids = append(ids, cl.EndpointID)
		}
	}
	eps, err := q.EndpointsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*endpoint, len(eps))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range eps {
		cached := c.m[e.ID]
		if cached == nil || !cached.UpdatedAt.Equal(e.UpdatedAt) || cached.Secret != e.Secret {
			prepared, err := prepare(e)
			if err != nil {
				return nil, err
			}
			cached = prepared
			c.m[e.ID] = cached
		}
		out[e.ID] = cached
	}
	return out, nil
}

func prepare(e domain.Endpoint) (*endpoint, error) {
	signer, err := webhook.NewSigner(e.Secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	p := &endpoint{Endpoint: e, signer: signer}
	if e.PreviousSecret != "" {
		if p.previous, err = webhook.NewSigner(e.PreviousSecret); err != nil {
			return nil, fmt.Errorf("endpoint %s: previous secret: %w", e.ID, err)
		}
	}
	return p, nil
}

// prepareJobs pairs each claimed delivery with its endpoint and renders each
// event's body once for all the endpoints that take it in the same form.
func prepareJobs(claimed []store.Claimed, eps map[string]*endpoint, leaseEnd time.Time) (jobs []job, missing []store.Claimed) {
	jobs = make([]job, 0, len(claimed))
	bodies := make(map[string][]byte, len(claimed))
	for _, c := range claimed {
		ep := eps[c.EndpointID]
		if ep == nil {
			missing = append(missing, c)
			continue
		}
		body, ok := bodies[c.Event.ID]
		if !ok {
			body = renderEnvelope(&c.Event)
			bodies[c.Event.ID] = body
		}
		jobs = append(jobs, job{claimed: c, ep: ep, body: body, leaseEnd: leaseEnd})
	}
	return jobs, missing
}

// lanes hold one queue per endpoint, each drained by at most the endpoint's
// concurrency limit of goroutines: a slow endpoint occupies its own lane and
// nobody else's.
type lanes struct {
	mu     sync.Mutex
	m      map[string]*lane
	run    func(*job)
	closed bool
}

type lane struct {
	queue  []*job
	active int
	limit  int
}

func newLanes(run func(*job)) *lanes { return &lanes{m: map[string]*lane{}, run: run} }

// push queues a job and starts a worker if the lane has room. It reports
// false once the lanes are closed.
func (ls *lanes) push(j *job) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return false
	}
	l := ls.m[j.ep.ID]
	if l == nil {
		l = &lane{}
		ls.m[j.ep.ID] = l
	}
	l.limit = max(1, j.ep.MaxConcurrency)
	l.queue = append(l.queue, j)
	if l.active < l.limit {
		l.active++
		go ls.work(j.ep.ID, l)
	}
	return true
}

func (ls *lanes) work(id string, l *lane) {
	for {
		ls.mu.Lock()
		if len(l.queue) == 0 || ls.closed {
			l.active--
			if l.active == 0 && len(l.queue) == 0 {
				delete(ls.m, id)
			}
			ls.mu.Unlock()
			return
		}
		j := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		ls.mu.Unlock()
		ls.run(j)
	}
}

// saturated lists endpoints whose lanes already hold a full round of
// waiting work, so the next claim leaves their deliveries in the queue.
func (ls *lanes) saturated() []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var ids []string
	for id, l := range ls.m {
		if len(l.queue) >= l.limit {
			ids = append(ids, id)
		}
	}
	return ids
}

// close stops the lanes and returns the jobs that never started.
func (ls *lanes) close() []store.Claimed {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.closed = true
	var out []store.Claimed
	for _, l := range ls.m {
		for _, j := range l.queue {
			out = append(out, j.claimed)
		}
		l.queue = nil
	}
	return out
}
