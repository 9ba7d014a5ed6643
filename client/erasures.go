package client

import (
	"context"
	"net/http"
	"time"
)

// ErasureRequest selects what to erase: exactly one of a job, a
// partner-param key and value, or event ids.
type ErasureRequest struct {
	JobID             string   `json:"job_id,omitempty"`
	PartnerParamKey   string   `json:"partner_param_key,omitempty"`
	PartnerParamValue string   `json:"partner_param_value,omitempty"`
	EventIDs          []string `json:"event_ids,omitempty"`
}

// Erasure is the receipt of an erasure: what matched and how many rows of
// each kind were erased. A partner-param value is kept only as a hash.
type Erasure struct {
	ID                    string         `json:"id"`
	TenantID              string         `json:"tenant_id"`
	Environment           string         `json:"environment"`
	At                    time.Time      `json:"at"`
	JobID                 string         `json:"job_id,omitempty"`
	PartnerParamKey       string         `json:"partner_param_key,omitempty"`
	PartnerParamValueHash string         `json:"partner_param_value_hash,omitempty"`
	EventIDs              []string       `json:"event_ids,omitempty"`
	Matched               ErasureMatched `json:"matched"`
	Erased                ErasureCounts  `json:"erased"`
	// WALTruncated (SQLite) says whether the write-ahead log was emptied
	// after the erasure; nil on PostgreSQL.
	WALTruncated *bool  `json:"wal_truncated,omitempty"`
	ActorType    string `json:"actor_type"`
	ActorID      string `json:"actor_id,omitempty"`
}

// ErasureMatched is what the selector found.
type ErasureMatched struct {
	Jobs   int `json:"jobs"`
	Events int `json:"events"`
}

// ErasureCounts are the rows erased, by kind.
type ErasureCounts struct {
	Events              int `json:"events"`
	Jobs                int `json:"jobs"`
	Deliveries          int `json:"deliveries"`
	CancelledDeliveries int `json:"cancelled_deliveries"`
	Attempts            int `json:"attempts"`
	IdempotencyKeys     int `json:"idempotency_keys"`
}

// ErasureListParams page through the receipts; Tenant and Environment
// are for the operator (a key reads its own scope's).
type ErasureListParams struct {
	ListParams
	Tenant      string `query:"tenant"`
	Environment string `query:"environment"`
}

var (
	createErasure = newRoute[none, ErasureRequest, Erasure]("create-erasure", http.MethodPost, "/v1/erasures")
	listErasures  = newRoute[ErasureListParams, none, List[Erasure]]("list-erasures", http.MethodGet, "/v1/erasures")
)

// Erase erases a person's data in the client's scope and returns the receipt.
func (c *Client) Erase(ctx context.Context, in *ErasureRequest) (*Erasure, error) {
	return createErasure.call(ctx, c, nil, in)
}

// ListErasures lists erasure receipts, newest first.
func (c *Client) ListErasures(ctx context.Context, p *ErasureListParams) (*List[Erasure], error) {
	return listErasures.call(ctx, c, p, nil)
}
