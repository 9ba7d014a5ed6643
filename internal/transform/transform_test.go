package transform

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/itchyny/gojq"
)

// envelope is what Herald sends in envelope mode, with partner params that
// carry a big integer, a decimal and characters an HTML-escaping encoder changes.
const envelope = `{"id":"evt_01","type":"verification.completed","timestamp":"2026-01-02T03:04:05Z",` +
	`"environment":"live","tenant_id":"ten_1","job":{"id":"job_1","partner_params":` +
	`{"ref":"a<b>&c","n":1.50,"big":123456789012345678901234567890,"note":"café ☕"}},` +
	`"data":{"status":"approved","score":0.97}}`

const smartKYC = `{event: .type, timestamp, data, tenantId: .tenant_id}`

func mustCompile(t testing.TB, src string) *Program {
	t.Helper()
	p, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p
}

func TestCompileErrorsNameTheLineAndColumn(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{".a | | .b", `at line 1, column 6: unexpected token "|"`},
		{"{a:", "at line 1, column 4: unexpected EOF"},
		{"{event: .type,\n  data: .data | nosuch}", "at line 2, column 17: function not defined: nosuch/0"},
		{".a | foo(1)", "at line 1, column 6: function not defined: foo/1"},
		{"$nosuch", "at line 1, column 1: variable not defined: $nosuch"},
		{"\"\\(.a)\" | now", "at line 1, column 11: now/0: a transform may not read the clock"},
		{"label $out | .x | localtime", "at line 1, column 19: localtime/0"},
		{"reduce .[] as $x (0; . + strflocaltime(\"%Y\"))", "at line 1, column 26: strflocaltime/1"},
		{"# env\n{a: env.HOME}", "at line 2, column 5: env/0: the process environment is not available"},
		{"{k: $ENV.HERALD_MASTER_KEY}", "at line 1, column 5: $ENV: the process environment is not available"},
		{"[inputs]", "at line 1, column 2: inputs/0: a transform has one input"},
		{"input", "at line 1, column 1: input/0"},
		{"if . then halt else 1 end", "at line 1, column 11: halt/0"},
		{"halt_error(1)", "at line 1, column 1: halt_error/1"},
		{`import "x" as x; .`, "at line 1, column 1: a transform may not load modules"},
		{"input_filename", "function not defined: input_filename/0"},
		{"$__loc__", "variable not defined: $__loc__"},
		{"debug", "function not defined: debug/0"},
		{"stderr", "function not defined: stderr/0"},
		{"empty", "at line 1, column 1: the program can never produce output"},
		{".a | error(\"no\")", "at line 1, column 6: the program can never produce output"},
		{"(empty, error) | .", "the program can never produce output"},
		{strings.Repeat(" ", MaxSourceLen) + ".", "more than the 16384 allowed"},
	} {
		_, err := Compile(tc.src)
		var ve *domain.ValidationError
		if !errors.As(err, &ve) || ve.Field != "transform" || !strings.Contains(ve.Msg, tc.want) {
			t.Errorf("Compile(%.40q) = %v, want a transform ValidationError containing %q", tc.src, err, tc.want)
		}
	}
}

func TestCompileAcceptsTheProgramsOwnFunctionsOfRefusedNames(t *testing.T) {
	for _, src := range []string{
		"def now: .timestamp; {at: now}",
		"def f(env): env; f(1)",
		"def f($input): input; f(2)",
		"def empty: 1; empty",
		"1, empty",
		"first(empty, 1)",
		"try error(\"x\") catch .",
		".a // empty",
		`"now env input" | . + "#now"`,
		".now | {env: .env}",
	} {
		if _, err := Compile(src); err != nil {
			t.Errorf("Compile(%q): %v", src, err)
		}
	}
}

func TestCompileLeavesTheEnvironmentOutOfGojq(t *testing.T) {
	// Compile refuses env and $ENV; this proves the layer below: without an
	// environ loader gojq's env is empty even when the process holds the key.
	t.Setenv("HERALD_MASTER_KEY", "must-not-leak")
	for _, src := range []string{"$ENV", "env"} {
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := code.Run(nil).Next()
		if m, ok := v.(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s = %v, want an empty object", src, v)
		}
	}
}

func TestRunReshapesTheEnvelopeWithSortedKeysExactNumbersAndNoHTMLEscaping(t *testing.T) {
	p := mustCompile(t, `. as $e | `+smartKYC+` | .data.params = $e.job.partner_params`)
	body, err := p.Run(context.Background(), []byte(envelope))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"params":{"big":123456789012345678901234567890,"n":1.50,"note":"café ☕","ref":"a<b>&c"},` +
		`"score":0.97,"status":"approved"},"event":"verification.completed","tenantId":"ten_1","timestamp":"2026-01-02T03:04:05Z"}`
	if string(body) != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
}

func TestRunFailsWithItsReason(t *testing.T) {
	for _, tc := range []struct {
		src    string
		reason Reason
		msg    string
	}{
		{".job.partner_params[]", ReasonManyOutputs, "more than one output"},
		{".nosuch[]?", ReasonNoOutput, "no output"},
		{"select(.type == \"other\")", ReasonNoOutput, "no output"},
		{`if .data.status == "approved" then error("not for this receiver") else . end`, ReasonRuntime, "not for this receiver"},
		{`if .id then error({big: [range(1000)]}) else . end`, ReasonRuntime, "too large to show"},
		{".type + 1", ReasonRuntime, "cannot add"},
		{"1, error(\"second\")", ReasonRuntime, "second"},
	} {
		_, err := mustCompile(t, tc.src).Run(context.Background(), []byte(envelope))
		var te *Error
		if !errors.As(err, &te) || te.Reason != tc.reason || !strings.Contains(te.Msg, tc.msg) {
			t.Errorf("Run(%q) = %v, want reason %s with %q", tc.src, err, tc.reason, tc.msg)
		}
		if te != nil && len(te.Msg) > maxErrorMsg+len("…") {
			t.Errorf("Run(%q): message of %d bytes", tc.src, len(te.Msg))
		}
	}
}

func TestRunStopsAnEndlessProgramAtItsTimeLimit(t *testing.T) {
	const limit = 50 * time.Millisecond
	for _, src := range []string{
		"def f: f; f",
		"[range(1e9)] | length",
		"last(repeat(.))",
		"reduce range(1e12) as $i (0; . + $i)",
		"[limit(1e9; repeat(1))] | length",
		"until(false; .)",
	} {
		p := mustCompile(t, src).WithLimits(Limits{Timeout: limit})
		start := time.Now()
		_, err := p.Run(context.Background(), []byte(envelope))
		took := time.Since(start)
		var te *Error
		if !errors.As(err, &te) || te.Reason != ReasonTimeout {
			t.Errorf("Run(%q) = %v, want a timeout", src, err)
		}
		if took > limit+time.Second { // slack for -race on a shared machine
			t.Errorf("Run(%q) took %v with a limit of %v", src, took, limit)
		}
	}
}

func TestRunRefusesAnOversizedOutputBeforeEncodingIt(t *testing.T) {
	const maxOutput = 64 << 10
	for _, src := range []string{
		"[range(100000)]",
		`"x" | until(length > 1000000; . + .)`,
		`[range(20) | tostring] | map({(.): "y" * 10000}) | add`,
		`"<" * 100000`,
	} {
		p := mustCompile(t, src).WithLimits(Limits{Timeout: 10 * time.Second, MaxOutput: maxOutput})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := p.Run(context.Background(), []byte(envelope))
		runtime.ReadMemStats(&after)
		var te *Error
		if !errors.As(err, &te) || te.Reason != ReasonOutputTooLarge {
			t.Errorf("Run(%q) = %v, want output_too_large", src, err)
		}
		// The program builds its value (a few MB here); encoding it would
		// add as much again, and is skipped.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Errorf("Run(%q) allocated %d MiB", src, alloc>>20)
		}
	}
	body, err := mustCompile(t, `"x" * 100`).WithLimits(Limits{MaxOutput: 102}).Run(context.Background(), []byte(envelope))
	if err != nil || len(body) != 102 {
		t.Errorf("an output of exactly the limit: %d bytes, %v", len(body), err)
	}
}

func TestRunReturnsTheCallersContextErrorNotAFailedTransform(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := mustCompile(t, "def f: f; f").Run(ctx, []byte(envelope))
	var te *Error
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Errorf("Run with a canceled context = %v, want context.Canceled", err)
	}
}

func TestRunRejectsAnEnvelopeThatIsNotOneJSONValue(t *testing.T) {
	for _, in := range []string{"", "{", `{} {}`, "nul"} {
		var te *Error
		if _, err := mustCompile(t, ".").Run(context.Background(), []byte(in)); err == nil || errors.As(err, &te) {
			t.Errorf("Run(%q) = %v, want a decode error that is not the transform's fault", in, err)
		}
	}
}

func TestOneProgramRunsFromManyGoroutines(t *testing.T) {
	// A generous limit: on a loaded machine a goroutine can wait longer than
	// the default for a CPU, and this test is about sharing, not limits.
	p := mustCompile(t, `. as $e | `+smartKYC+` | .n = ($e.job.partner_params.n | tostring)`).WithLimits(Limits{Timeout: 10 * time.Second})
	want, err := p.Run(context.Background(), []byte(envelope))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				env := strings.Replace(envelope, `"evt_01"`, fmt.Sprintf(`"evt_%d_%d"`, g, i), 1)
				got, err := p.Run(context.Background(), []byte(env))
				if err != nil || string(got) != string(want) {
					t.Errorf("goroutine %d run %d: %s, %v", g, i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCacheCompilesEachProgramOnceAndKeepsTheMostRecent(t *testing.T) {
	c := NewCache(2, Limits{MaxOutput: 10})
	a1, err := c.Program(".a")
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := c.Program(".a"); a2 != a1 {
		t.Error("a second lookup compiled again")
	}
	if _, err := mustCompile(t, `"x" * 20`).WithLimits(c.limits).Run(context.Background(), []byte("{}")); err == nil {
		t.Error("the cache's limits do not apply")
	}
	c.Program(".b")
	c.Program(".a") // .a is now the most recent, .b the oldest
	c.Program(".c")
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	if a3, _ := c.Program(".a"); a3 != a1 {
		t.Error("the most recently used program was evicted")
	}
	var ve *domain.ValidationError
	if _, err := c.Program(".a |"); !errors.As(err, &ve) {
		t.Errorf("a bad program: %v", err)
	}
}

func TestCacheIsSafeForConcurrentUse(t *testing.T) {
	c := NewCache(4, Limits{Timeout: 10 * time.Second})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				src := fmt.Sprintf(".n + %d", (g+i)%7)
				p, err := c.Program(src)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := p.Run(context.Background(), []byte(`{"n":1}`)); err != nil || string(got) != fmt.Sprint(1+(g+i)%7) {
					t.Errorf("%s = %s, %v", src, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 4 {
		t.Errorf("Len = %d, over the size of 4", c.Len())
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{smartKYC, ".", ".a | | .b", "def f: f; f", "\"\\(now)\"", "$ENV", "{a:", "# c\n.x",
		`reduce .[] as {a: $x, $y} (0; . + $x)`, `.[] as [$a] ?// $a | $a`, `label $f | break $f`, "@base64 \"\\(.)\"", "empty"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src)
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || ve.Field != "transform" {
				t.Fatalf("Compile(%q) = %#v, want a transform ValidationError", src, err)
			}
			return
		}
		if p.Source() != src {
			t.Fatalf("Source() = %q", p.Source())
		}
	})
}

func FuzzRun(f *testing.F) {
	programs := []*Program{
		mustCompile(f, "."),
		mustCompile(f, smartKYC),
		mustCompile(f, `.. |= (if type == "string" then . + . else . end)`),
		mustCompile(f, `[paths] | length`),
		mustCompile(f, `tojson | fromjson`),
		mustCompile(f, `.data | to_entries | map(.value) | .[0]`),
	}
	for i := range programs {
		programs[i] = programs[i].WithLimits(Limits{Timeout: 200 * time.Millisecond, MaxOutput: 4 << 10})
	}
	for _, s := range []string{envelope, "{}", "[]", "1.50", `"<&>"`, "123456789012345678901234567890", `{"a":[[[[]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range programs {
			body, err := p.Run(context.Background(), in)
			if err != nil {
				continue
			}
			if len(body) > 4<<10 {
				t.Fatalf("%s: %d bytes over the limit", p.Source(), len(body))
			}
			if _, err := decode(body); err != nil {
				t.Fatalf("%s: output %q is not JSON: %v", p.Source(), body, err)
			}
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		if _, err := Compile(smartKYC); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	p := mustCompile(b, smartKYC).WithLimits(Limits{Timeout: 10 * time.Second})
	in := []byte(envelope)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
