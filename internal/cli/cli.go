// Package cli is Herald's admin command line: tenants, keys, endpoints,
// send, tail and replay, the kong commands that cmd/herald puts beside
// serve. It talks to a running Herald over HTTP through the public client
// (client/) only, as any operator's script would: never the API's code or
// the store.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/client"
)

// Commands are the admin commands; cmd/herald embeds them in its command
// line.
type Commands struct {
	Tenants   tenantsCmd   `cmd:"" help:"List, create, show and change tenants (operator token)."`
	Keys      keysCmd      `cmd:"" help:"List, issue, rotate and revoke a tenant environment's API keys."`
	Endpoints endpointsCmd `cmd:"" help:"List, show, create, change, pause, resume, test and delete endpoints."`
	Send      sendCmd      `cmd:"" help:"Publish an event: its data from a flag, a file, standard input or the catalog's example."`
	Tail      tailCmd      `cmd:"" help:"Follow the delivery log live."`
	Replay    replayCmd    `cmd:"" help:"Send deliveries again: by id, an event's, or an endpoint's failed ones."`
}

// IO is where the commands read and write, bound by the caller of kong's
// Run: the process's standard streams, or a test's buffers.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Version goes into the User-Agent (herald-cli/<version>), so the
	// server's logs and audit tell the command line's calls apart.
	Version string
	// Context ends the command; nil: interrupted by SIGINT or SIGTERM.
	Context context.Context
}

// context is the command's context and the function that releases it.
func (e *IO) context() (context.Context, context.CancelFunc) {
	if e.Context != nil {
		return context.WithCancel(e.Context)
	}
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Report writes err as the command line shows it: for a refused call the
// problem's title, status and detail, then each refused field on a line of
// its own, and a hint where the fix is in this command's credentials.
func Report(w io.Writer, err error) {
	var pe *client.Error
	if !errors.As(err, &pe) {
		fmt.Fprintln(w, "herald:", strings.TrimPrefix(err.Error(), "herald: "))
		return
	}
	fmt.Fprintf(w, "herald: %s (%d)", pe.Title, pe.Status)
	if pe.Detail != "" && pe.Detail != pe.Title {
		fmt.Fprintf(w, ": %s", pe.Detail)
	}
	fmt.Fprintln(w)
	hint := ""
	for _, f := range pe.Errors {
		fmt.Fprintf(w, "  %s: %s", f.Location, f.Message)
		if f.Value != nil {
			fmt.Fprintf(w, " (got %v)", f.Value)
		}
		fmt.Fprintln(w)
		switch f.Location {
		case "header.Herald-Tenant":
			hint = "name the tenant with --tenant, HERALD_TENANT or the config file's tenant"
		case "header.Herald-Environment":
			hint = "name the environment with --environment, HERALD_ENVIRONMENT or the config file's environment"
		}
	}
	switch pe.Status {
	case 401:
		hint = "check the token: --token, HERALD_TOKEN or the config file's token"
	case 403:
		hint = "an API key cannot do this: use the operator token"
	}
	if pe.RetryAfter > 0 {
		fmt.Fprintf(w, "  try again in %s\n", pe.RetryAfter.Round(time.Second))
	}
	if hint != "" {
		fmt.Fprintf(w, "  (%s)\n", hint)
	}
}

// printJSON writes v as indented JSON, as the API wrote it: not
// HTML-escaped.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, in aligned columns.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes name: value lines, aligned, for one object.
func fields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
		}
	}
	return tw.Flush()
}

// stamp shows a time in UTC to the second; "" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// stampPtr is stamp of an optional time.
func stampPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

// orDash shows "-" for an empty cell, so that columns stay readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseTime reads a point in time as a duration before now (10m, 24h) or
// an RFC 3339 time.
func parseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration back from now (such as 30m) nor an RFC 3339 time", s)
	}
	return t, nil
}

// maxInput bounds what a command reads from a file or standard input: an
// event's data or an endpoint's settings are far smaller than the API's
// own request limit.
const maxInput = 1 << 20

// readInput reads a file, or standard input for "-", up to maxInput.
func readInput(e *IO, path string) ([]byte, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r, name = e.Stdin, "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s holds more than %d bytes", name, maxInput)
	}
	return b, nil
}

// decodeStrict decodes JSON into v, refusing fields v does not have, so
// that a misspelt setting is an error rather than silently dropped.
// decodeFile reads the request given by --file ("-": standard input) into
// v, refusing unknown fields; no --file leaves v as it is.
func decodeFile(e *IO, path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := readInput(e, path)
	if err != nil {
		return err
	}
	return decodeStrict(b, path, v)
}

func decodeStrict(b []byte, what string, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
