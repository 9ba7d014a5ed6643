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
func prepareJobs(claimed []store.Claimed, eps map[string]*endpoint) (jobs []job, missing []store.Claimed) {
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
		jobs = append(jobs, job{claimed: c, ep: ep, body: r.body, bodyErr: r.err, leaseEnd: c.LeaseUntil})
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
	// reserved counts deliveries handed over at publish, on their way to
	// the queue: they count toward the queue being full.
	reserved int
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
			if l.idle() {
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
	return l != nil && l.full()
}

// full reports whether the lane's waiting work, room reserved included,
// makes store.ClaimRounds rounds.
func (l *lane) full() bool { return len(l.queue)+l.reserved >= store.ClaimRounds*l.round }

// idle reports whether the lane holds nothing: no job, no worker, no room
// reserved.
func (l *lane) idle() bool { return l.active == 0 && len(l.queue) == 0 && l.reserved == 0 }

// reserve makes room in an endpoint's lane for a delivery handed over at
// publish, unless the lane is full (saturated); round is the lane's round
// as the endpoint's limits make it.
func (ls *lanes) reserve(endpointID string, round int) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return false
	}
	l := ls.m[endpointID]
	if l == nil {
		l = &lane{round: round}
		ls.m[endpointID] = l
	}
	if l.full() {
		return false
	}
	l.reserved++
	return true
}

// unreserve gives back room reserved in the endpoints' lanes, one id per
// delivery.
func (ls *lanes) unreserve(endpointIDs []string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, id := range endpointIDs {
		l := ls.m[id]
		if l == nil {
			continue
		}
		if l.reserved--; l.idle() {
			delete(ls.m, id)
		}
	}
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
