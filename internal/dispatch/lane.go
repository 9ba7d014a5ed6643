package dispatch

import (
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// job is one claimed delivery ready to send.
type job struct {
	claimed store.Claimed
	ep      *endpoint
	// body is shared by every job of the same event and payload mode (and
	// endpoint, when the endpoint has a profile or adds to the body); never
	// modified. The
	// body signature, when the endpoint has one, is added per attempt.
	body []byte
	// bodyErr says why no body could be made for this endpoint.
	bodyErr string
	// leaseEnd is when another process may take the delivery over; an
	// attempt that could not finish before it is not started.
	leaseEnd time.Time
	// fullBody is the receiver's answer as read (up to maxDrain), for the
	// success rule; the log keeps less.
	fullBody []byte
}

// bodyKey names one rendering of an event: its payload mode and, for
// endpoints with a profile or that add members to the body, the endpoint.
type bodyKey struct {
	event    string
	mode     payloadMode
	endpoint string
}

type rendered struct {
	body []byte
	err  string
}

// prepareJobs pairs each claimed delivery with its endpoint and renders each
// event's body once for all the endpoints that take it in the same form.
func prepareJobs(claimed []store.Claimed, eps map[string]*endpoint, leaseEnd time.Time) (jobs []job, missing []store.Claimed) {
	jobs = make([]job, 0, len(claimed))
	bodies := make(map[bodyKey]rendered, len(claimed))
	for _, c := range claimed {
		ep := eps[c.EndpointID]
		if ep == nil {
			missing = append(missing, c)
			continue
		}
		k := bodyKey{event: c.Event.ID, mode: ep.mode}
		if ep.ownBody() {
			k.endpoint = ep.ID
		}
		r, ok := bodies[k]
		if !ok {
			r.body, r.err = ep.render(&c.Event, func(mode payloadMode) []byte {
				// The endpoint-free rendering is shared too.
				base := bodyKey{event: c.Event.ID, mode: mode}
				if b, ok := bodies[base]; ok && b.err == "" {
					return b.body
				}
				b := render(&c.Event, mode)
				bodies[base] = rendered{body: b}
				return b
			})
			bodies[k] = r
		}
		jobs = append(jobs, job{claimed: c, ep: ep, body: r.body, bodyErr: r.err, leaseEnd: leaseEnd})
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
	// round is how many jobs make a round of the lane's queue
	// (domain.LaneRound).
	round int
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
	l.round = domain.LaneRound(l.limit, j.ep.RateLimit)
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

// saturated reports whether an endpoint's lane already holds
// store.ClaimRounds full rounds of waiting work, so that a claim leaves its
// deliveries in the queue. A claim asks as it runs (store.ClaimParams.Skip).
//
// Less than that lets a fast endpoint run dry: with one round waiting, the
// claim that finds the lane full comes back empty, and the lane then sends
// what it holds and waits for the next claim, which on SQLite waits behind
// the publishes for the writer (with 200 API clients publishing, delivery
// fell ever further behind them). Two rounds waiting cover that claim's
// wait; the queue never holds more than four rounds, since a claim takes
// at most two.
func (ls *lanes) saturated(endpointID string) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.m[endpointID]
	return l != nil && len(l.queue) >= store.ClaimRounds*l.round
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
