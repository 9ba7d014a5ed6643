// Package transform runs an endpoint's body transform: a jq program, run with
// gojq over the envelope Herald would have sent, whose one output is the body.
//
// A program is compiled once, when the endpoint is saved (Compile), and kept
// compiled in a Cache; every Run has a time limit and an output-size limit, and
// fails with an *Error whose Reason the attempt log records under ErrClass.
//
// The server runs programs through a Pool of worker processes, never in its
// own: one evaluation step of gojq can allocate gigabytes before the time
// limit is looked at again, and only a process of its own bounds that.
package transform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/itchyny/gojq"
)

// ErrClass is the error class of an attempt whose transform failed.
const ErrClass = "transform"

// MaxSourceLen bounds a program's text: a transform reshapes one envelope, and
// a cap keeps compile time and the compiled cache small.
const MaxSourceLen = 16 << 10

// Limits bound one run. A zero field takes its default.
type Limits struct {
	// Timeout is the run's time limit. gojq checks the context before every
	// step, so an endless program stops within a step of it.
	Timeout time.Duration
	// MaxOutput is the largest body a run may produce, in encoded bytes.
	MaxOutput int
}

// Default limits: 100 ms is about a thousand times the cost of a typical
// reshaping program (see BenchmarkRun) and well inside the dispatcher's
// per-attempt budget; 1 MiB is the ingest limit, so a transform can at most
// return an event's worth of data.
const (
	DefaultTimeout   = 100 * time.Millisecond
	DefaultMaxOutput = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultMaxOutput
	}
	return l
}

// Reason says why a run failed.
type Reason string

// The reasons a run fails.
const (
	ReasonTimeout        Reason = "timeout"
	ReasonOutputTooLarge Reason = "output_too_large"
	ReasonNoOutput       Reason = "no_output"
	ReasonManyOutputs    Reason = "many_outputs"
	ReasonRuntime        Reason = "runtime"
	// ReasonMemoryLimit is a run whose worker went over its memory limit
	// (Pool only): the operating system refused an allocation, or the pool
	// saw the worker's resident size pass the limit and killed it.
	ReasonMemoryLimit Reason = "memory_limit"
)

// Error is a failed run: the program's fault, never Herald's.
type Error struct {
	Reason Reason
	Msg    string
}

func (e *Error) Error() string { return "transform " + string(e.Reason) + ": " + e.Msg }

// maxErrorMsg bounds the message of a runtime error: the program chooses the
// value of error(…), and the attempt log keeps the message.
const maxErrorMsg = 512

// Program is a compiled transform. It is immutable and safe for concurrent use.
type Program struct {
	src    string
	code   *gojq.Code
	limits Limits
}

// Source returns the program's text.
func (p *Program) Source() string { return p.src }

// WithLimits returns the program with other limits, sharing its compiled code.
func (p *Program) WithLimits(l Limits) *Program {
	q := *p
	q.limits = l.withDefaults()
	return &q
}

// Compile parses and checks a program. Its errors are *domain.ValidationError
// on the field "transform", naming the line and column where they can.
func Compile(src string) (*Program, error) {
	if len(src) > MaxSourceLen {
		return nil, invalid(src, -1, "the program is %d bytes, more than the %d allowed", len(src), MaxSourceLen)
	}
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			return nil, invalid(src, max(pe.Offset-len(pe.Token), 0), "%v", pe)
		}
		return nil, invalid(src, -1, "%v", err)
	}
	if err := check(src, q); err != nil {
		return nil, err
	}
	// No environ loader, input iterator or module loader: env and $ENV would
	// be empty, input(s) and modules fail to compile. check refuses them
	// first, with a position.
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, invalid(src, positionOf(src, err), "%v", err)
	}
	return &Program{src: src, code: code, limits: Limits{}.withDefaults()}, nil
}

// Run runs the program over an envelope and returns the body: its one output,
// encoded as JSON with object keys sorted and no HTML escaping. A failure of
// the program is an *Error; if ctx itself ends, Run returns ctx's error.
func (p *Program) Run(ctx context.Context, envelope []byte) ([]byte, error) {
	in, err := decode(envelope)
	if err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	runCtx, cancel := context.WithTimeout(ctx, p.limits.Timeout)
	defer cancel()

	iter := p.code.RunWithContext(runCtx, in)
	out, ok := iter.Next()
	if !ok {
		return nil, &Error{Reason: ReasonNoOutput, Msg: "the program produced no output"}
	}
	if err := p.runError(ctx, out); err != nil {
		return nil, err
	}
	if next, ok := iter.Next(); ok {
		if err := p.runError(ctx, next); err != nil {
			return nil, err
		}
		return nil, &Error{Reason: ReasonManyOutputs, Msg: "the program produced more than one output"}
	}
	// Refuse a value that cannot fit before encoding it: the walk stops at the
	// limit and allocates nothing.
	if encodedAtLeast(out, p.limits.MaxOutput+1) {
		return nil, tooLarge(p.limits.MaxOutput)
	}
	body, _ := gojq.Marshal(out)
	if len(body) > p.limits.MaxOutput {
		return nil, tooLarge(p.limits.MaxOutput)
	}
	return body, nil
}

// runError turns an error value of the iterator into the run's error.
func (p *Program) runError(ctx context.Context, v any) error {
	err, ok := v.(error)
	if !ok {
		return nil
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Reason: ReasonTimeout, Msg: fmt.Sprintf("the program ran longer than %v", p.limits.Timeout)}
	}
	return &Error{Reason: ReasonRuntime, Msg: errorMessage(err)}
}

func tooLarge(limit int) error {
	return &Error{Reason: ReasonOutputTooLarge, Msg: fmt.Sprintf("the output is larger than %d bytes", limit)}
}

// errorMessage bounds what error(…) can put in the attempt log without
// encoding a value of any size.
func errorMessage(err error) string {
	var ve gojq.ValueError
	if errors.As(err, &ve) {
		v := ve.Value()
		if encodedAtLeast(v, maxErrorMsg) {
			return "error(…): the value is too large to show"
		}
		if s, ok := v.(string); ok {
			return s
		}
	}
	msg := err.Error()
	if len(msg) > maxErrorMsg {
		msg = msg[:maxErrorMsg] + "…"
	}
	return msg
}

// decode reads the envelope with numbers kept as json.Number, which gojq
// takes as is: a big integer or a decimal such as 1.50 comes out unchanged
// unless the program does arithmetic on it.
func decode(envelope []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(envelope))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// encodedAtLeast reports whether v's JSON encoding is at least n bytes long,
// counting a lower bound (escapes only add) and stopping as soon as it is.
func encodedAtLeast(v any, n int) bool {
	var size int
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case nil:
			size += 4
		case bool:
			size += 4
		case int, float64:
			size++
		case *big.Int:
			size += len(v.Bits())
		case json.Number:
			size += len(v)
		case string:
			size += len(v) + 2
		case []any:
			size += 1 + len(v)
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			size += 1 + 2*len(v)
			for k, e := range v {
				size += len(k) + 2
				if walk(e) {
					return true
				}
			}
		}
		return size >= n
	}
	return walk(v)
}
