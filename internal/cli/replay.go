package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/heraldhq/herald/client"
)

// replayCmd sends deliveries again through the API's two ways to: one
// delivery at once (retry-delivery, whatever its status), or an
// endpoint's failed deliveries of a window (recover-endpoint).
type replayCmd struct {
	Delivery replayDeliveryCmd `cmd:"" help:"Send deliveries again now, whatever their status; the receiver sees the same webhook-id."`
	Event    replayEventCmd    `cmd:"" help:"Send an event's deliveries again: to every endpoint it went to, or those in --status."`
	Endpoint replayEndpointCmd `cmd:"" help:"Send an endpoint's failed deliveries created in a window again."`
}

// maxReplay bounds the deliveries one replay sends again one by one.
const maxReplay = 1000

type replayDeliveryCmd struct {
	Conn
	IDs []string `arg:"" name:"id" help:"The deliveries' ids (dlv_…), up to 1,000."`
}

func (c *replayDeliveryCmd) Run(e *IO) error {
	if len(c.IDs) > maxReplay {
		return fmt.Errorf("%d deliveries: at most %d at once", len(c.IDs), maxReplay)
	}
	return c.run(e, func(s *session) error { return retryAll(s, c.IDs) })
}

type replayEventCmd struct {
	Conn
	ID     string `arg:"" help:"The event's id (evt_…)."`
	Status string `enum:",pending,succeeded,failed,cancelled" default:"" help:"Only the deliveries in this status, such as failed."`
}

func (c *replayEventCmd) Run(e *IO) error {
	return c.run(e, func(s *session) error {
		var ids []string
		for d, err := range client.All(s.ctx, s.c.ListDeliveries, &client.DeliveryListParams{EventID: c.ID, Status: c.Status}) {
			if err != nil {
				return err
			}
			if len(ids) == maxReplay {
				return fmt.Errorf("event %s has more than %d deliveries: replay them by endpoint", c.ID, maxReplay)
			}
			ids = append(ids, d.ID)
		}
		if len(ids) == 0 {
			what := "deliveries"
			if c.Status != "" {
				what = c.Status + " deliveries"
			}
			return fmt.Errorf("event %s has no %s", c.ID, what)
		}
		return retryAll(s, ids)
	})
}

// retryAll retries each delivery, showing those now due; one that is
// refused is reported and the others still go.
func retryAll(s *session, ids []string) error {
	var done []client.Delivery
	failed := 0
	for _, id := range ids {
		d, err := s.c.RetryDelivery(s.ctx, id)
		if err != nil {
			if s.ctx.Err() != nil || len(ids) == 1 {
				return err
			}
			failed++
			s.note("%s:", id)
			Report(s.io.Stderr, err)
			continue
		}
		done = append(done, *d)
	}
	err := s.print(client.List[client.Delivery]{Data: done}, func(w io.Writer) error {
		rows := make([][]string, len(done))
		for i, d := range done {
			rows[i] = []string{d.ID, d.Status, strconv.Itoa(d.AttemptCount), d.EndpointID, d.EventType, d.EventID}
		}
		return table(w, []string{"DELIVERY", "STATUS", "ATTEMPTS", "ENDPOINT", "EVENT TYPE", "EVENT"}, rows)
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deliveries were not replayed", failed, len(ids))
	}
	return nil
}

type replayEndpointCmd struct {
	Conn
	ID    string `arg:"" help:"The endpoint's id (ep_…)."`
	Since string `required:"" help:"The window's start: a duration back from now (24h) or an RFC 3339 time."`
	Until string `help:"The window's end, excluded (default now)."`
}

func (c *replayEndpointCmd) Run(e *IO) error {
	now := time.Now()
	since, err := parseTime(c.Since, now)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	var until time.Time
	if c.Until != "" {
		if until, err = parseTime(c.Until, now); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		if !until.After(since) {
			return errors.New("--until must be after --since")
		}
	}
	return c.run(e, func(s *session) error {
		n, err := s.c.RecoverEndpoint(s.ctx, c.ID, &client.RecoverWindow{Since: since, Until: until})
		if err != nil {
			return err
		}
		return s.print(map[string]any{"endpoint_id": c.ID, "recovered": n}, func(w io.Writer) error {
			return fields(w, "endpoint", c.ID, "recovered", fmt.Sprintf("%d failed deliveries are due again", n))
		})
	})
}
