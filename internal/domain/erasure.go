package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// PrefixErasure is the prefix of erasure receipts' ids.
const PrefixErasure = "era"

// Erased is what an erased event's data becomes: the event stays (its id,
// type, times and deliveries' outcomes), what it said about a person does not.
var Erased = []byte(`{"erased":true}`)

// ErasedReason is the last error of a delivery that an erasure cancelled
// or whose attempts it emptied.
const ErasedReason = "erased"

// MaxErasureEvents bounds the event ids one erasure request may name.
const MaxErasureEvents = 1000

// What an endpoint's attempts keep of a receiver's answer.
const (
	ResponseBodyFull    = "full"    // the first MaxStoredResponseBody bytes of the body, and the headers
	ResponseBodyHeaders = "headers" // the status and the headers
	ResponseBodyNone    = "none"    // the status only
)

// ErasureSelector is what an erasure matches: a job, the jobs whose
// partner params hold a value under a key, or events by id. Exactly one.
type ErasureSelector struct {
	JobID string `json:"job_id,omitempty"`
	// PartnerParamKey and PartnerParamValue select the jobs whose
	// partner_params object has this value (a string, or a number or
	// boolean written as JSON) under this top-level key.
	PartnerParamKey   string   `json:"partner_param_key,omitempty"`
	PartnerParamValue string   `json:"partner_param_value,omitempty"`
	EventIDs          []string `json:"event_ids,omitempty"`
}

// Validate names the first thing wrong with the selector; a selector that
// names none, or several, is wrong as a whole (an empty Field).
func (s *ErasureSelector) Validate() error {
	n := 0
	for _, set := range []bool{s.JobID != "", s.PartnerParamKey != "" || s.PartnerParamValue != "", len(s.EventIDs) > 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return Invalid("", "name what to erase: job_id, partner_param_key with partner_param_value, or event_ids")
	case n > 1:
		return Invalid("", "name one of job_id, partner_param_key with partner_param_value, or event_ids, not several")
	case s.PartnerParamKey == "" && s.PartnerParamValue != "":
		return Invalid("partner_param_key", "required with partner_param_value")
	case s.PartnerParamKey != "" && s.PartnerParamValue == "":
		return Invalid("partner_param_value", "required with partner_param_key")
	case len(s.EventIDs) > MaxErasureEvents:
		return Invalid("event_ids", "at most %d ids in one request", MaxErasureEvents)
	}
	return nil
}

// ErasureCounts are the rows an erasure changed, by kind.
type ErasureCounts struct {
	Events              int `json:"events" doc:"Events whose data was erased."`
	Jobs                int `json:"jobs" doc:"Jobs whose partner params and callback URL were erased."`
	Deliveries          int `json:"deliveries" doc:"Deliveries marked erased (their callback URL and last error removed)."`
	CancelledDeliveries int `json:"cancelled_deliveries" doc:"Pending deliveries cancelled, with the reason \"erased\"."`
	Attempts            int `json:"attempts" doc:"Attempts whose request and response headers, response body and error text were erased."`
	IdempotencyKeys     int `json:"idempotency_keys" doc:"Idempotency keys of the erased events removed."`
}

// ErasureMatched is what a selector found.
type ErasureMatched struct {
	Jobs   int `json:"jobs"`
	Events int `json:"events"`
}

// Erasure is the receipt of an erasure. It holds no personal data: a
// partner-param value is kept only as PartnerParamValueHash.
type Erasure struct {
	ID          string      `json:"id"`
	TenantID    string      `json:"tenant_id"`
	Environment Environment `json:"environment"`
	At          time.Time   `json:"at" doc:"When the erasure finished."`
	JobID       string      `json:"job_id,omitempty"`
	// PartnerParamKey is kept; its value only as a hash.
	PartnerParamKey       string         `json:"partner_param_key,omitempty"`
	PartnerParamValueHash string         `json:"partner_param_value_hash,omitempty" doc:"sha256 (hex) of tenant, environment, key and value, each followed by a zero byte: the value itself is personal data, but whoever knows it can check that it was erased."`
	EventIDs              []string       `json:"event_ids,omitempty"`
	Matched               ErasureMatched `json:"matched"`
	Erased                ErasureCounts  `json:"erased"`
	// WALTruncated (SQLite) reports whether the write-ahead log was
	// checkpointed and emptied after the erasure, so that no old copy of
	// an erased page remains in it; absent on PostgreSQL.
	WALTruncated *bool  `json:"wal_truncated,omitempty" doc:"SQLite: whether the write-ahead log was checkpointed and truncated after the erasure, so that no old page image of the erased rows remains in it. false means a reader held it past the wait; the next erasure (or the repeat of this one) truncates it. Absent on PostgreSQL (see docs/privacy.md)."`
	ActorType    string `json:"actor_type"`
	ActorID      string `json:"actor_id,omitempty"`
}

// HashPartnerParam is the receipt's form of a partner-param value.
func HashPartnerParam(s Scope, key, value string) string {
	h := sha256.New()
	for _, part := range []string{s.TenantID, string(s.Environment), key, value} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
