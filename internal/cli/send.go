package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/heraldhq/herald/client"
)

type sendCmd struct {
	Conn
	Type     string `arg:"" help:"The event type, such as verification.approved."`
	Data     string `xor:"data" help:"The event's data, a JSON object."`
	DataFile string `xor:"data" placeholder:"PATH" help:"A file holding the event's data, or - for standard input."`
	Example  bool   `xor:"data" help:"Send the type's example from the catalog (GET /v1/event-types/{name})."`

	JobID          string `help:"The job the event is about: every event of a job carries its id."`
	JobKind        string `help:"The job's kind, such as document_verification."`
	PartnerParams  string `help:"The job's partner params, a JSON object echoed in every event of the job."`
	Final          bool   `help:"The job's last event."`
	IdempotencyKey string `help:"A repeat with the same key returns the first result instead of publishing again (for 24 hours at least)."`
}

// published is what send prints: the API's result and whether the
// idempotency key had been used.
type published struct {
	ID         string `json:"id"`
	Deliveries int    `json:"deliveries"`
	Replayed   bool   `json:"replayed"`
}

func (c *sendCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		var data []byte
		switch {
		case c.Data != "":
			data = []byte(c.Data)
		case c.DataFile != "":
			b, err := readInput(e, c.DataFile)
			if err != nil {
				return err
			}
			data = b
		case c.Example:
			t, err := s.c.GetEventType(s.ctx, c.Type)
			if err != nil {
				return err
			}
			if len(t.Example) == 0 {
				return fmt.Errorf("event type %s has no example: give --data or --data-file", c.Type)
			}
			data = t.Example
		default:
			return errors.New("give the event's data: --data, --data-file or --example")
		}
		if !json.Valid(data) {
			return errors.New("the event's data is not JSON")
		}
		ev := &client.PublishEvent{Type: c.Type, Data: data, Final: c.Final, IdempotencyKey: c.IdempotencyKey}
		if c.JobID != "" {
			ev.Job = &client.JobRef{ID: c.JobID, Kind: c.JobKind}
			if c.PartnerParams != "" {
				if !json.Valid([]byte(c.PartnerParams)) {
					return errors.New("--partner-params is not JSON")
				}
				ev.Job.PartnerParams = json.RawMessage(c.PartnerParams)
			}
		} else if c.JobKind != "" || c.PartnerParams != "" {
			return errors.New("--job-kind and --partner-params need --job-id")
		}
		r, err := s.c.Publish(s.ctx, ev)
		if err != nil {
			return err
		}
		out := published{ID: r.ID, Deliveries: r.Deliveries, Replayed: r.Replayed}
		return s.print(out, func(w io.Writer) error {
			replayed := ""
			if r.Replayed {
				replayed = "yes: the idempotency key was used before; this is the first publish's result"
			}
			return fields(w, "event", r.ID, "deliveries", strconv.Itoa(r.Deliveries), "replayed", replayed)
		})
	})
}
