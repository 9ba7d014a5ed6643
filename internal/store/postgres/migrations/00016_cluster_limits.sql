-- +goose Up
-- Limits that hold for the whole cluster, kept in the database every
-- process shares (docs/delivery.md#rate-and-concurrency-limits).
--
-- rate_limit is an endpoint's most requests a second; 0 is none.
ALTER TABLE endpoints ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;

-- One token bucket per endpoint with a rate limit and per API key, taken
-- from by every process: it holds at most burst tokens and gains
-- rate_tokens every per_seconds. tokens are millionths of a token, so that
-- the refill and the take are exact integer arithmetic in one statement;
-- last_took is what the last take took, for RETURNING (which returns only
-- new values). The rate is the last take's, so retention can tell a bucket
-- that is full again (it carries no state) and drop it.
CREATE TABLE rate_buckets (
    id          TEXT PRIMARY KEY,   -- the endpoint's or the API key's id
    tokens      BIGINT NOT NULL,
    last_took   INTEGER NOT NULL,
    updated_at  BIGINT NOT NULL,
    rate_tokens BIGINT NOT NULL,
    per_seconds BIGINT NOT NULL,
    burst       BIGINT NOT NULL
);

-- The leases an endpoint's claims count: a claim takes no more than the
-- endpoint's max_concurrency less the deliveries other processes hold.
-- Only deliveries in flight are in it, so it stays small.
CREATE INDEX deliveries_leased ON deliveries (endpoint_id) WHERE lease_owner IS NOT NULL AND status = 'pending';

-- The dispatchers that claimed lately, each claim's owner and when it
-- last claimed (an idle one claims every second): while another runs, a
-- claim takes no more of an endpoint than max_concurrency less the
-- endpoint's leases, instead of claiming ahead, so that every process gets
-- its share of the endpoint.
CREATE TABLE dispatchers (
    owner   TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE dispatchers;
DROP INDEX deliveries_leased;
DROP TABLE rate_buckets;
ALTER TABLE endpoints DROP COLUMN rate_limit;
