package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald/client"
)

// tailCmd follows the delivery log. The API lists deliveries newest first
// and filters them by creation time, so tail polls with a watermark: the
// newest creation time it has seen, less a lag for transactions that
// commit out of order, with the ids seen since then not shown twice. A
// delivery it has shown while pending it also follows: when its next
// attempt is due it fetches it again, and shows it when its status or
// attempt count changed.
type tailCmd struct {
	Conn
	Endpoint string        `placeholder:"ID" help:"Only this endpoint's deliveries."`
	Type     string        `placeholder:"TYPE" help:"Only deliveries of this event type."`
	Event    string        `placeholder:"ID" help:"Only this event's deliveries."`
	Status   string        `enum:",pending,succeeded,failed,cancelled" default:"" help:"Only deliveries in this status: pending, succeeded, failed or cancelled (a delivery is shown when it reaches it)."`
	Lines    int           `short:"n" default:"10" help:"Show the last N deliveries first (0: only new ones)."`
	Interval time.Duration `default:"2s" help:"How often to ask (at least 200ms)."`
	Count    int           `help:"Stop after showing this many (0: follow until interrupted)."`
}

const (
	// tailLag is how far back each poll looks again before the newest
	// delivery seen, for one created earlier but committed later.
	tailLag = 5 * time.Second
	// tailPage is the page size of a poll, and tailMaxPages its bound:
	// beyond 5,000 new deliveries between two polls, tail shows the newest.
	tailPage     = 100
	tailMaxPages = 50
	// tailFollow bounds the pending deliveries followed, and tailRefetch
	// how many of them one poll fetches again.
	tailFollow  = 1000
	tailRefetch = 50
)

// tailState is what tail remembers between polls.
type tailState struct {
	shown     map[string]shownDelivery
	pending   map[string]client.Delivery
	watermark time.Time
	printed   int
}

type shownDelivery struct {
	status   string
	attempts int
	created  time.Time
}

// errTailDone ends the follow loop once --count lines were shown.
var errTailDone = errors.New("tail: count reached")

func (c *tailCmd) Run(e *IO) error {
	if c.Interval < 200*time.Millisecond {
		return fmt.Errorf("--interval %s: at least 200ms", c.Interval)
	}
	if c.Lines < 0 || c.Lines > 500 {
		return fmt.Errorf("--lines %d: 0 to 500", c.Lines)
	}
	return c.run(e, func(s *session) error {
		st := &tailState{shown: map[string]shownDelivery{}, pending: map[string]client.Delivery{}}
		// The backlog: the last --lines deliveries (one at least, for the
		// watermark), shown oldest first.
		first, err := s.c.ListDeliveries(s.ctx, c.params(max(c.Lines, 1), time.Time{}, c.Status))
		if err != nil {
			return err
		}
		backlog := first.Data
		if c.Lines == 0 {
			for _, d := range backlog {
				st.remember(d)
			}
			backlog = nil
		}
		if c.Status != "" {
			// The newest delivery in any status sets the watermark, or the
			// first poll would list every delivery not in this one.
			newest, err := s.c.ListDeliveries(s.ctx, c.params(1, time.Time{}, ""))
			if err != nil {
				return err
			}
			for _, d := range newest.Data {
				if _, shown := st.shown[d.ID]; !shown && !slices.ContainsFunc(backlog, func(b client.Delivery) bool { return b.ID == d.ID }) {
					st.remember(d)
				}
			}
		}
		slices.Reverse(backlog)
		for _, d := range backlog {
			if err := c.observe(s, st, d); err != nil {
				return ignoreDone(err)
			}
		}
		tick := time.NewTicker(c.Interval)
		defer tick.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return nil
			case <-tick.C:
			}
			err := c.poll(s, st)
			if errors.Is(err, errTailDone) || s.ctx.Err() != nil {
				return nil
			}
			if err != nil {
				if !transient(err) {
					return err
				}
				s.note("tail: %v (trying again)", err)
			}
		}
	})
}

func ignoreDone(err error) error {
	if errors.Is(err, errTailDone) {
		return nil
	}
	return err
}

// transient says whether a failed poll is worth trying again: the network,
// or the API asking to wait.
func transient(err error) bool {
	var pe *client.Error
	if !errors.As(err, &pe) {
		return true
	}
	return pe.Status == 429 || pe.Status == 503 || pe.Status >= 500
}

// params are the list parameters with the filters that never change for a
// delivery; status is sent only for the backlog, since a new delivery
// reaches it later.
func (c *tailCmd) params(limit int, since time.Time, status string) *client.DeliveryListParams {
	return &client.DeliveryListParams{
		ListParams: client.ListParams{Limit: limit},
		EndpointID: c.Endpoint, EventType: c.Type, EventID: c.Event, Status: status, Since: since,
	}
}

// poll shows the deliveries created since the watermark, then those
// followed whose next attempt is due.
func (c *tailCmd) poll(s *session, st *tailState) error {
	var since time.Time
	if !st.watermark.IsZero() {
		since = st.watermark.Add(-tailLag)
	}
	p := c.params(tailPage, since, "")
	var fresh []client.Delivery
	for range tailMaxPages {
		page, err := s.c.ListDeliveries(s.ctx, p)
		if err != nil {
			return err
		}
		fresh = append(fresh, page.Data...)
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	slices.Reverse(fresh)
	for _, d := range fresh {
		if err := c.observe(s, st, d); err != nil {
			return err
		}
	}
	if err := c.refetch(s, st); err != nil {
		return err
	}
	// Forget what no poll will list again.
	for id, sd := range st.shown {
		if _, followed := st.pending[id]; !followed && sd.created.Before(st.watermark.Add(-tailLag)) {
			delete(st.shown, id)
		}
	}
	return nil
}

// refetch gets again the followed deliveries whose next attempt is due,
// oldest first, up to tailRefetch of them.
func (c *tailCmd) refetch(s *session, st *tailState) error {
	var due []client.Delivery
	for _, d := range st.pending {
		if d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) <= 0 {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b client.Delivery) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, d := range due[:min(len(due), tailRefetch)] {
		got, err := s.c.GetDelivery(s.ctx, d.ID)
		var pe *client.Error
		if errors.As(err, &pe) && pe.Status == 404 {
			delete(st.pending, d.ID) // dropped by retention or its endpoint's deletion
			continue
		}
		if err != nil {
			return err
		}
		got.Attempts = nil // as the list shows a delivery
		if err := c.observe(s, st, *got); err != nil {
			return err
		}
	}
	return nil
}

// remember records a delivery as shown without showing it.
func (st *tailState) remember(d client.Delivery) {
	st.shown[d.ID] = shownDelivery{status: d.Status, attempts: d.AttemptCount, created: d.CreatedAt}
	if d.CreatedAt.After(st.watermark) {
		st.watermark = d.CreatedAt
	}
	if d.Status != client.DeliveryPending {
		delete(st.pending, d.ID)
		return
	}
	if _, ok := st.pending[d.ID]; !ok && len(st.pending) >= tailFollow {
		// Follow the newest: drop the oldest followed.
		var oldest string
		for id, p := range st.pending {
			if oldest == "" || p.CreatedAt.Before(st.pending[oldest].CreatedAt) {
				oldest = id
			}
		}
		delete(st.pending, oldest)
	}
	st.pending[d.ID] = d
}

// observe shows a delivery that is new or has changed, when it passes the
// status filter, and remembers it.
func (c *tailCmd) observe(s *session, st *tailState, d client.Delivery) error {
	prev, seen := st.shown[d.ID]
	st.remember(d)
	if seen && prev.status == d.Status && prev.attempts == d.AttemptCount {
		return nil
	}
	if c.Status != "" && d.Status != c.Status {
		return nil
	}
	if err := printDeliveryLine(s, d); err != nil {
		return err
	}
	st.printed++
	if c.Count > 0 && st.printed >= c.Count {
		return errTailDone
	}
	return nil
}

// printDeliveryLine writes one delivery as a line: NDJSON for scripts,
// fixed columns for people (a stream cannot align on lines to come).
func printDeliveryLine(s *session, d client.Delivery) error {
	w := s.io.Stdout
	if s.json {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	// The receiver's status says what happened; the error, when no
	// answer came.
	result := d.LastError
	if d.LastResponseStatus != 0 {
		result = strconv.Itoa(d.LastResponseStatus)
	}
	if d.Status == client.DeliveryPending && d.NextAttemptAt != nil && d.AttemptCount > 0 {
		result += " next " + stamp(*d.NextAttemptAt)
	}
	test := ""
	if d.Test {
		test = " (test)"
	}
	_, err := fmt.Fprintf(w, "%s  %-9s  %2d  %-30s  %-30s  %s%s  %s\n",
		stamp(d.UpdatedAt), d.Status, d.AttemptCount, d.EndpointID, d.EventType, d.ID, test, result)
	return err
}
