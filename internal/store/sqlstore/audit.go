package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// audit writes the entry attached to ctx (store.WithAudit), if any, in tx:
// the transaction of the change it records. Every configuration change
// calls it last, once the change itself has succeeded.
func (db *DB) audit(ctx context.Context, tx *sql.Tx) error {
	e := store.AuditFrom(ctx)
	if e == nil {
		return nil
	}
	var changes any
	if len(e.Changes) > 0 {
		changes = marshal(e.Changes)
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO audit_log (id, tenant_id, environment, at, actor_type, actor_id, action,
		resource_type, resource_id, client_ip, user_agent, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.TenantID, string(e.Environment), micros(e.At), e.ActorType, e.ActorID, e.Action,
		e.ResourceType, e.ResourceID, e.ClientIP, e.UserAgent, changes)
	return err
}

const auditColumns = `id, tenant_id, environment, at, actor_type, actor_id, action, resource_type, resource_id, client_ip, user_agent, changes`

func scanAudit(r row) (domain.AuditEntry, error) {
	var e domain.AuditEntry
	var at int64
	var changes []byte
	err := r.Scan(&e.ID, &e.TenantID, &e.Environment, &at, &e.ActorType, &e.ActorID, &e.Action,
		&e.ResourceType, &e.ResourceID, &e.ClientIP, &e.UserAgent, &changes)
	if err != nil {
		return e, err
	}
	e.At = fromMicros(at)
	if len(changes) > 0 {
		err = json.Unmarshal(changes, &e.Changes)
	}
	return e, err
}

func (db *DB) ListAudit(ctx context.Context, f store.AuditFilter) ([]domain.AuditEntry, error) {
	f.Page = f.Page.Clamp()
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Scoped {
		add(`tenant_id = ?`, f.TenantID)
		add(`environment = ?`, string(f.Environment))
	} else {
		if f.TenantID != "" {
			add(`tenant_id = ?`, f.TenantID)
		}
		if f.Environment != "" {
			add(`environment = ?`, string(f.Environment))
		}
	}
	for _, c := range []struct{ col, v string }{
		{"resource_type", f.ResourceType}, {"resource_id", f.ResourceID}, {"actor_id", f.ActorID},
		{"actor_type", f.ActorType}, {"action", f.Action},
	} {
		if c.v != "" {
			add(c.col+` = ?`, c.v)
		}
	}
	if f.Cursor != "" {
		add(`id < ?`, f.Cursor)
	}
	// Ids sort by creation time: the time range is an id range, which the
	// indexes serve.
	if !f.Since.IsZero() {
		add(`id >= ?`, domain.IDFloor(domain.PrefixAudit, f.Since))
	}
	if !f.Until.IsZero() {
		add(`id < ?`, domain.IDFloor(domain.PrefixAudit, f.Until))
	}
	q := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, f.Limit)
	return collect(ctx, db, "list audit log", scanAudit, q+` ORDER BY id DESC LIMIT ?`, args...)
}
