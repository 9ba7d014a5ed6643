package dispatch

import (
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// rateBucket is an endpoint's rate limit as a token bucket all processes
// share: at most a tenth of a second's requests at once (at least one),
// and a process takes half of that from the store at a time, so a busy
// endpoint costs about twenty round trips a second whatever its rate.
func rateBucket(e *domain.Endpoint) (b store.TokenBucket, batch int) {
	burst := max(1, (e.RateLimit+9)/10)
	return store.TokenBucket{ID: e.ID, Tokens: e.RateLimit, PerSeconds: 1, Burst: burst}, max(1, burst/2)
}

// paced waits until the endpoint's rate limit lets one more request go. A
// delivery that cannot go before latest, or when the dispatcher stops, is
// given back to the queue by the caller: waiting for the rate spends no
// attempt.
func (d *Dispatcher) paced(j *job, latest time.Time) bool {
	if j.ep.RateLimit <= 0 {
		return true
	}
	b, batch := rateBucket(&j.ep.Endpoint)
	ok, err := d.rates.Wait(d.waits, b, batch, latest)
	if err != nil {
		d.log.Warn("could not take from the endpoint's rate limit; the delivery goes back to the queue",
			"endpoint", j.ep.ID, "delivery", j.claimed.DeliveryID, "err", err)
	}
	return ok
}
