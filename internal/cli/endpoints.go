package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
)

type endpointsCmd struct {
	List         endpointsListCmd   `cmd:"" help:"List the environment's endpoints."`
	Get          endpointsGetCmd    `cmd:"" help:"Show an endpoint (credentials masked)."`
	Create       endpointsCreateCmd `cmd:"" help:"Create an endpoint; its signing secret is shown only once."`
	Update       endpointsUpdateCmd `cmd:"" help:"Change an endpoint: only what is given changes."`
	Pause        endpointsPauseCmd  `cmd:"" help:"Hold an endpoint's deliveries until it is resumed."`
	Resume       endpointsResumeCmd `cmd:"" help:"Deliver to a paused or disabled endpoint again."`
	Delete       endpointsDeleteCmd `cmd:"" help:"Delete an endpoint; its pending deliveries are cancelled."`
	Test         endpointsTestCmd   `cmd:"" help:"Send a test event to one endpoint now and show what happened."`
	RotateSecret endpointsRotateCmd `cmd:"" name:"rotate-secret" help:"Replace an endpoint's signing secret; the new one is shown only once."`
}

type endpointsListCmd struct {
	Conn
	Paging
}

func (c *endpointsListCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		l, err := pages(s, c.Paging, func(ctx context.Context, cursor string, limit int) (*client.List[client.Endpoint], error) {
			return s.c.ListEndpoints(ctx, &client.ListParams{Cursor: cursor, Limit: limit})
		})
		if err != nil {
			return err
		}
		return s.print(l, func(w io.Writer) error {
			rows := make([][]string, len(l.Data))
			for i, ep := range l.Data {
				rows[i] = []string{ep.ID, ep.Status, ep.URL, orDash(ep.Name), eventTypes(ep.EventTypes), ep.Profile}
			}
			return table(w, []string{"ID", "STATUS", "URL", "NAME", "EVENT TYPES", "PROFILE"}, rows)
		})
	})
}

func eventTypes(ts []string) string {
	if len(ts) == 0 {
		return "all"
	}
	return strings.Join(ts, ",")
}

// printEndpoint shows an endpoint; secret, when not empty, is its new
// signing secret.
func printEndpoint(s *session, v any, ep *client.Endpoint, secret string) error {
	return s.print(v, func(w io.Writer) error {
		status := ep.Status
		if ep.DisabledReason != "" {
			status += " (" + ep.DisabledReason + ")"
		}
		retry := ep.RetryPolicy.Preset
		if len(ep.RetryPolicy.Delays) > 0 {
			retry = strings.Join(ep.RetryPolicy.Delays, ",")
		}
		err := fields(w, "id", ep.ID, "url", ep.URL, "name", ep.Name, "status", status,
			"tenant", ep.TenantID, "environment", ep.Environment, "event types", eventTypes(ep.EventTypes),
			"profile", ep.Profile, "payload", ep.PayloadMode, "signing", ep.Signing, "retry", retry,
			"timeout", strconv.Itoa(ep.TimeoutMS)+"ms", "max concurrency", strconv.Itoa(ep.MaxConcurrency),
			"default callback", strconv.FormatBool(ep.DefaultCallback), "created", stamp(ep.CreatedAt),
			"updated", stamp(ep.UpdatedAt), "secret", secret)
		if secret != "" {
			s.note("The signing secret is shown only now.")
		}
		return err
	})
}

type endpointsGetCmd struct {
	Conn
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
}

func (c *endpointsGetCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		ep, err := s.c.GetEndpoint(s.ctx, c.ID)
		if err != nil {
			return err
		}
		return printEndpoint(s, ep, ep, "")
	})
}

// EndpointSettings are the flags for an endpoint's common settings; the
// rest go in --file as the API's JSON.
type EndpointSettings struct {
	URL            string            `name:"url" help:"The receiver's URL."`
	Name           string            `help:"A name to recognise it by."`
	EventType      []string          `name:"event-type" help:"An event type to deliver (repeat it; a trailing .* matches a prefix)."`
	Header         map[string]string `name:"header" mapsep:"none" help:"A header sent with every delivery, as name=value (repeat it)."`
	Profile        string            `help:"The delivery profile (herald's GET /v1/profiles lists them)."`
	RetryPreset    string            `help:"default, standard-webhooks, once, none or fast."`
	Ordering       string            `help:"none, or job: a job's events one at a time, in publish order."`
	Timeout        time.Duration     `help:"How long an attempt may take, such as 10s."`
	MaxConcurrency int               `help:"Deliveries to it at once."`
	File           string            `placeholder:"PATH" help:"The request as the API's JSON (docs/api.md), or - for standard input; the flags given override it."`
}

type endpointsCreateCmd struct {
	Conn
	EndpointSettings
	Paused bool   `help:"Create it paused: deliveries wait until it is resumed."`
	Secret string `help:"The signing secret (whsec_…) when the receiver already holds one; Herald makes one otherwise."`
}

func (c *endpointsCreateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		var in client.EndpointCreate
		if err := decodeFile(e, c.File, &in); err != nil {
			return err
		}
		set := c.EndpointSettings
		if set.URL != "" {
			in.URL = set.URL
		}
		if set.Name != "" {
			in.Name = set.Name
		}
		if set.EventType != nil {
			in.EventTypes = set.EventType
		}
		if set.Header != nil {
			in.Headers = set.Header
		}
		if set.Profile != "" {
			in.Profile = set.Profile
		}
		if set.RetryPreset != "" {
			in.RetryPolicy = &client.RetryPolicy{Preset: set.RetryPreset}
		}
		if set.Ordering != "" {
			in.Ordering = set.Ordering
		}
		if set.Timeout != 0 {
			in.TimeoutMS = client.Ptr(int(set.Timeout.Milliseconds()))
		}
		if set.MaxConcurrency != 0 {
			in.MaxConcurrency = client.Ptr(set.MaxConcurrency)
		}
		if c.Paused {
			in.Status = client.EndpointPaused
		}
		if c.Secret != "" {
			in.Secret = c.Secret
		}
		ep, err := s.c.CreateEndpoint(s.ctx, &in)
		if err != nil {
			return err
		}
		return printEndpoint(s, ep, &ep.Endpoint, ep.Secret)
	})
}

type endpointsUpdateCmd struct {
	Conn
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
	EndpointSettings
	AllEventTypes bool `help:"Deliver every event type (instead of --event-type)." xor:"types"`
}

func (c *endpointsUpdateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		var in client.EndpointUpdate
		if err := decodeFile(e, c.File, &in); err != nil {
			return err
		}
		set := c.EndpointSettings
		if set.URL != "" {
			in.URL = &set.URL
		}
		if set.Name != "" {
			in.Name = &set.Name
		}
		if set.EventType != nil {
			in.EventTypes = set.EventType
		}
		if c.AllEventTypes {
			in.EventTypes = []string{}
		}
		if set.Header != nil {
			in.Headers = set.Header
		}
		if set.Profile != "" {
			in.Profile = &set.Profile
		}
		if set.RetryPreset != "" {
			in.RetryPolicy = &client.RetryPolicy{Preset: set.RetryPreset}
		}
		if set.Ordering != "" {
			in.Ordering = &set.Ordering
		}
		if set.Timeout != 0 {
			in.TimeoutMS = client.Ptr(int(set.Timeout.Milliseconds()))
		}
		if set.MaxConcurrency != 0 {
			in.MaxConcurrency = client.Ptr(set.MaxConcurrency)
		}
		ep, err := s.c.UpdateEndpoint(s.ctx, c.ID, &in)
		if err != nil {
			return err
		}
		return printEndpoint(s, ep, ep, "")
	})
}

// setStatus pauses or resumes an endpoint.
func setStatus(e *IO, c *Conn, id, status string) error {
	return c.run(e, func(s *session) error {
		ep, err := s.c.UpdateEndpoint(s.ctx, id, &client.EndpointUpdate{Status: &status})
		if err != nil {
			return err
		}
		return printEndpoint(s, ep, ep, "")
	})
}

type endpointsPauseCmd struct {
	Conn
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
}

func (c *endpointsPauseCmd) Run(e *IO) error {
	return setStatus(e, &c.Conn, c.ID, client.EndpointPaused)
}

type endpointsResumeCmd struct {
	Conn
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
}

func (c *endpointsResumeCmd) Run(e *IO) error {
	return setStatus(e, &c.Conn, c.ID, client.EndpointActive)
}

type endpointsDeleteCmd struct {
	Conn
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
}

func (c *endpointsDeleteCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		if err := s.c.DeleteEndpoint(s.ctx, c.ID); err != nil {
			return err
		}
		return s.print(map[string]any{"id": c.ID, "deleted": true}, func(w io.Writer) error {
			return fields(w, "deleted", c.ID)
		})
	})
}

type endpointsTestCmd struct {
	Conn
	ID        string `arg:"" help:"The endpoint's id (ep_…)."`
	EventType string `arg:"" help:"The event type; its catalog example is sent unless --data is given."`
	Data      string `help:"The event's data, a JSON object, instead of the type's example."`
}

func (c *endpointsTestCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		in := &client.TestSend{EventType: c.EventType}
		if c.Data != "" {
			if !json.Valid([]byte(c.Data)) {
				return fmt.Errorf("--data is not JSON")
			}
			in.Data = json.RawMessage(c.Data)
		}
		r, err := s.c.TestEndpoint(s.ctx, c.ID, in)
		if err != nil {
			return err
		}
		return s.print(r, func(w io.Writer) error {
			resp := ""
			if r.ResponseStatus != 0 {
				resp = strconv.Itoa(r.ResponseStatus)
			}
			return fields(w, "status", r.Status, "response", resp, "latency", strconv.FormatInt(r.LatencyMS, 10)+"ms",
				"error", strings.TrimSpace(r.ErrorClass+" "+r.Error), "event", r.EventID, "delivery", r.DeliveryID,
				"body", r.ResponseBody)
		})
	})
}

type endpointsRotateCmd struct {
	Conn
	ID          string `arg:"" help:"The endpoint's id (ep_…)."`
	GracePeriod string `help:"How long the old secret keeps signing beside the new one, such as 24h (default 24h, at most 720h)."`
	Secret      string `help:"The new secret (whsec_…) when the receiver already holds it; Herald makes one otherwise."`
}

func (c *endpointsRotateCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		r, err := s.c.RotateEndpointSecret(s.ctx, c.ID, &client.SecretRotation{GracePeriod: c.GracePeriod, Secret: c.Secret})
		if err != nil {
			return err
		}
		return s.print(r, func(w io.Writer) error {
			s.note("The signing secret is shown only now.")
			return fields(w, "secret", r.Secret, "previous secret expires", stamp(r.PreviousSecretExpiresAt))
		})
	})
}
