package api

import (
	"context"
	"errors"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// Erasure on request: a person's data gone from every table Herald keeps,
// with a receipt (docs/privacy.md).

// erasureBody selects what to erase: exactly one of its selectors.
type erasureBody struct {
	JobID             string   `json:"job_id,omitempty" maxLength:"128" doc:"Erase this job and every event of it." example:"job_7f3a"`
	PartnerParamKey   string   `json:"partner_param_key,omitempty" maxLength:"128" doc:"With partner_param_value: erase every job whose partner params hold the value under this top-level key, and their events." example:"user_id"`
	PartnerParamValue string   `json:"partner_param_value,omitempty" maxLength:"1024" doc:"The value (a string, or a number or boolean as JSON text). It is personal data: the receipt and the audit log keep only a hash of it." example:"user-4821"`
	EventIDs          []string `json:"event_ids,omitempty" maxItems:"1000" doc:"Erase these events (and the partner params of their jobs)." example:"[\"evt_01JD6Q3M4X8F0S6V8C2K7ZB5RT\"]"`
}

type createErasureInput struct {
	ScopeHeaders
	Body erasureBody
}

type listErasuresInput struct {
	PageParams
	Tenant      string `query:"tenant" maxLength:"64" doc:"Operator only: the receipts of this tenant. A key sees its own tenant's only."`
	Environment string `query:"environment" enum:"sandbox,production" doc:"Operator only: the receipts of this environment. A key sees its own environment's only."`
}

func (s *Server) createErasure(ctx context.Context, in *createErasureInput) (*Body[*domain.Erasure], error) {
	if k := principalFrom(ctx).key; k != nil &&
		(in.Tenant != "" && in.Tenant != k.TenantID || in.Environment != "" && domain.Environment(in.Environment) != k.Environment) {
		// A key acts in its own scope only; naming another is a mistake
		// worth refusing rather than erasing in the key's scope instead.
		return nil, huma.Error403Forbidden("this API key belongs to another tenant's scope than the Herald-Tenant and Herald-Environment headers name; an erasure acts in the key's own scope: leave them out",
			&huma.ErrorDetail{Location: "header.Herald-Tenant", Message: "not the key's scope"})
	}
	sc, err := s.scope(ctx, in.ScopeHeaders)
	if err != nil {
		return nil, err
	}
	b := &in.Body
	sel := domain.ErasureSelector{JobID: b.JobID, PartnerParamKey: b.PartnerParamKey, PartnerParamValue: b.PartnerParamValue, EventIDs: b.EventIDs}
	if err := sel.Validate(); err != nil {
		var ve *domain.ValidationError
		if errors.As(err, &ve) && ve.Field == "" {
			return nil, huma.Error422UnprocessableEntity(ve.Msg, &huma.ErrorDetail{Location: "body", Message: ve.Msg})
		}
		return nil, s.problem(err)
	}
	now := domain.Now()
	r := &domain.Erasure{ID: domain.NewIDAt(domain.PrefixErasure, now), TenantID: sc.TenantID, Environment: sc.Environment,
		JobID: sel.JobID, PartnerParamKey: sel.PartnerParamKey, EventIDs: sel.EventIDs}
	if sel.PartnerParamKey != "" {
		r.PartnerParamValueHash = domain.HashPartnerParam(sc, sel.PartnerParamKey, sel.PartnerParamValue)
	}
	// The audit entry says what was asked, never the value itself.
	changes := map[string]domain.FieldChange{}
	for field, v := range map[string]string{"job_id": r.JobID, "partner_param_key": r.PartnerParamKey, "partner_param_value_hash": r.PartnerParamValueHash} {
		if v != "" {
			changes[field] = domain.FieldChange{To: v}
		}
	}
	if len(r.EventIDs) > 0 {
		changes["event_ids"] = domain.FieldChange{To: strconv.Itoa(len(r.EventIDs)) + " events"}
	}
	entry := s.auditEntry(ctx, sc, "erasure.created", "erasure", r.ID, changes)
	r.ActorType, r.ActorID = entry.ActorType, entry.ActorID
	if err := s.store.Erase(store.WithAudit(ctx, entry), sc, sel, r); err != nil {
		return nil, s.problem(err)
	}
	s.log.InfoContext(ctx, "erasure", "tenant", sc.TenantID, "environment", sc.Environment, "erasure", r.ID,
		"matched_events", r.Matched.Events, "erased_events", r.Erased.Events, "erased_attempts", r.Erased.Attempts)
	return &Body[*domain.Erasure]{Body: r}, nil
}

func (s *Server) listErasures(ctx context.Context, in *listErasuresInput) (*Body[*List[domain.Erasure]], error) {
	f := store.ErasureFilter{Page: in.page(), TenantID: in.Tenant, Environment: domain.Environment(in.Environment)}
	if k := principalFrom(ctx).key; k != nil {
		if in.Tenant != "" && in.Tenant != k.TenantID || in.Environment != "" && domain.Environment(in.Environment) != k.Environment {
			return nil, huma.Error403Forbidden("an API key reads its own tenant's and environment's erasures only; leave out tenant and environment")
		}
		f.TenantID, f.Environment = k.TenantID, k.Environment
	}
	es, err := s.store.ListErasures(ctx, f)
	if err != nil {
		return nil, s.problem(err)
	}
	return &Body[*List[domain.Erasure]]{Body: listOf(es, f.Limit, func(e *domain.Erasure) string { return e.ID })}, nil
}
