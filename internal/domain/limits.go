package domain

// LaneRound is how many deliveries of an endpoint make one round of its
// lane: its max_concurrency, or a second's worth of requests when its rate
// limit is lower, so that deliveries waiting for the rate do not queue in
// a lane until their lease runs out. A claim takes at most a few rounds
// of an endpoint (store.ClaimRounds).
func LaneRound(maxConcurrency, rateLimit int) int {
	n := max(1, maxConcurrency)
	if rateLimit > 0 {
		n = min(n, rateLimit)
	}
	return n
}
