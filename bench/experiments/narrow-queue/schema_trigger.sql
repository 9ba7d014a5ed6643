-- Variant C of the narrow-queue experiment (README.md): deliveries keeps every
-- column but no index over the queue's state, and a trigger keeps
-- delivery_queue in step, so that the statements of today need not change.
DROP SCHEMA IF EXISTS expc CASCADE;
CREATE SCHEMA expc;
SET search_path = expc;
CREATE TABLE deliveries (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, environment TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, endpoint_id TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT, lease_owner TEXT, last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, target_url TEXT NOT NULL DEFAULT '', test BOOLEAN NOT NULL DEFAULT FALSE, signed_at BIGINT, ordered_job TEXT, follows_failed TEXT, erased_at BIGINT) WITH (fillfactor = 50);
CREATE INDEX ON deliveries (tenant_id, environment, id);
CREATE INDEX ON deliveries (event_id);
CREATE INDEX ON deliveries (endpoint_id, id);
CREATE TABLE delivery_queue (id TEXT PRIMARY KEY, endpoint_id TEXT NOT NULL, next_attempt_at BIGINT, lease_owner TEXT, ordered_job TEXT);
CREATE INDEX ON delivery_queue (endpoint_id, next_attempt_at);
CREATE INDEX ON delivery_queue (endpoint_id) WHERE lease_owner IS NOT NULL;
CREATE FUNCTION queue_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'pending' THEN
      INSERT INTO delivery_queue VALUES (NEW.id, NEW.endpoint_id, NEW.next_attempt_at, NEW.lease_owner, NEW.ordered_job);
    END IF;
  ELSIF NEW.status = 'pending' THEN
    IF OLD.status = 'pending' THEN
      UPDATE delivery_queue SET next_attempt_at = NEW.next_attempt_at, lease_owner = NEW.lease_owner WHERE id = NEW.id;
    ELSE
      INSERT INTO delivery_queue VALUES (NEW.id, NEW.endpoint_id, NEW.next_attempt_at, NEW.lease_owner, NEW.ordered_job);
    END IF;
  ELSIF OLD.status = 'pending' THEN
    DELETE FROM delivery_queue WHERE id = NEW.id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER deliveries_queue_ins AFTER INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION queue_sync();
CREATE TRIGGER deliveries_queue_upd AFTER UPDATE OF status, next_attempt_at, lease_owner ON deliveries FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.next_attempt_at IS DISTINCT FROM NEW.next_attempt_at OR OLD.lease_owner IS DISTINCT FROM NEW.lease_owner)
  EXECUTE FUNCTION queue_sync();
