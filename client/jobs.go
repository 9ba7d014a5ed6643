package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// JobRef names the job an event is about, or registers one.
type JobRef struct {
	// ID is the platform's job id; every event of the job carries it.
	ID   string `json:"id"`
	Kind string `json:"kind,omitempty"`
	// PartnerParams is an object echoed in every event of the job; the
	// last one given is kept.
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
	// CallbackURL is the job's own receiver, used instead of the default
	// callback endpoint, with that endpoint's secret and settings.
	CallbackURL string `json:"callback_url,omitempty"`
}

// Job is what an asynchronous verification is about: its partner params,
// callback URL and latest status.
type Job struct {
	ID            string          `json:"id"`
	TenantID      string          `json:"tenant_id"`
	Environment   string          `json:"environment"`
	Kind          string          `json:"kind,omitempty"`
	PartnerParams json.RawMessage `json:"partner_params,omitempty"`
	CallbackURL   string          `json:"callback_url,omitempty"`
	Status        string          `json:"status,omitempty"`
	Final         bool            `json:"final"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	// ErasedAt is when an erasure removed the job's partner params and
	// callback URL.
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

// JobDetail is a job with its events and where each delivery of them
// stands.
type JobDetail struct {
	Job
	Events []JobEvent `json:"events"`
}

// JobEvent is one event of a job.
type JobEvent struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	Timestamp  time.Time          `json:"timestamp"`
	Final      bool               `json:"final,omitempty"`
	Data       json.RawMessage    `json:"data"`
	ErasedAt   *time.Time         `json:"erased_at,omitempty"`
	Deliveries []JobEventDelivery `json:"deliveries"`
}

// JobEventDelivery is where one delivery of a job's event stands.
type JobEventDelivery struct {
	ID                 string     `json:"id"`
	EndpointID         string     `json:"endpoint_id"`
	Status             string     `json:"status"`
	AttemptCount       int        `json:"attempt_count"`
	LastResponseStatus int        `json:"last_response_status,omitempty"`
	NextAttemptAt      *time.Time `json:"next_attempt_at,omitempty"`
}

// JobListParams page through jobs by last change, oldest first, and
// filter them; zero fields do not filter.
type JobListParams struct {
	ListParams
	// UpdatedSince keeps the jobs changed at or after it.
	UpdatedSince time.Time `query:"updated_since"`
	// Final keeps the finished (true) or unfinished (false) jobs.
	Final *bool `query:"final"`
	// UpdatedBefore keeps the jobs changed before it.
	UpdatedBefore time.Time `query:"updated_before"`
	Kind          string    `query:"kind"`
	// Status keeps the jobs whose last event is of this type.
	Status string `query:"status"`
	// PartnerParam keeps the jobs whose partner params hold this value,
	// exactly, as a top-level string or whole number under any key.
	PartnerParam string `query:"partner_param"`
	// Order is oldest (the default) or newest: the page starts from the
	// job changed last.
	Order string `query:"order"`
}

var (
	putJob   = newRoute[none, JobRef, Job]("put-job", http.MethodPost, "/v1/jobs")
	getJob   = newRoute[none, none, JobDetail]("get-job", http.MethodGet, "/v1/jobs/{id}")
	listJobs = newRoute[JobListParams, none, List[Job]]("list-jobs", http.MethodGet, "/v1/jobs")
)

// PutJob registers a job ahead of its events, or changes its partner
// params and callback URL. Operator only.
func (c *Client) PutJob(ctx context.Context, in *JobRef) (*Job, error) {
	return putJob.call(ctx, c, nil, in)
}

// GetJob gets a job with its events and their delivery state.
func (c *Client) GetJob(ctx context.Context, id string) (*JobDetail, error) {
	return getJob.call(ctx, c, nil, nil, id)
}

// ListJobs lists the scope's jobs by last change, oldest first unless
// p.Order is newest.
func (c *Client) ListJobs(ctx context.Context, p *JobListParams) (*List[Job], error) {
	return listJobs.call(ctx, c, p, nil)
}
