package profile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/itchyny/gojq"

	"github.com/heraldhq/herald/internal/profile"
)

// The jq programs in testdata are the profiles' definitions (docs/profiles.md);
// gojq runs them as the oracle the renderers are held to.

var programs sync.Map // profile name → *gojq.Code

func program(t testing.TB, name string) *gojq.Code {
	if c, ok := programs.Load(name); ok {
		return c.(*gojq.Code)
	}
	src, err := os.ReadFile("testdata/" + name + ".jq")
	if err != nil {
		t.Fatal(err)
	}
	q, err := gojq.Parse(string(src))
	if err != nil {
		t.Fatalf("%s.jq: %v", name, err)
	}
	code, err := gojq.Compile(q, gojq.WithVariables([]string{"$opts"}))
	if err != nil {
		t.Fatalf("%s.jq: %v", name, err)
	}
	programs.Store(name, code)
	return code
}

// errProgram is the program failing on an input (jq's "cannot index string
// with ..."): a data shape the catalog rules out, on which the renderer only
// has to stay valid JSON.
var errProgram = errors.New("the program fails on this input")

// oracle runs the profile's program on the envelope of in, with the
// profile's non-secret options as $opts, and returns its one output.
func oracle(t testing.TB, p *profile.Profile, in *profile.Input, opts map[string]json.RawMessage) (any, error) {
	t.Helper()
	env := map[string]any{
		"id": in.ID, "type": in.Type, "timestamp": in.Timestamp, "environment": in.Environment, "tenant_id": in.TenantID,
	}
	if in.Job != nil {
		job := map[string]any{"id": in.Job.ID}
		if in.Job.Kind != "" {
			job["kind"] = in.Job.Kind
		}
		if len(in.Job.PartnerParams) > 0 {
			job["partner_params"] = decodeNumbers(t, in.Job.PartnerParams)
		}
		env["job"] = job
	}
	if in.Final {
		env["final"] = true
	}
	if in.Test {
		env["test"] = true
	}
	if len(in.Data) > 0 {
		env["data"] = decodeNumbers(t, in.Data)
	}
	vars := map[string]any{}
	for _, o := range p.Options {
		if v, ok := opts[o.Name]; ok && !o.Secret {
			vars[o.Name] = decodeNumbers(t, v)
		}
	}
	it := program(t, p.Name).Run(env, vars)
	out, ok := it.Next()
	if !ok {
		t.Fatalf("%s.jq gave no output", p.Name)
	}
	if err, ok := out.(error); ok {
		return nil, errors.Join(errProgram, err)
	}
	if _, more := it.Next(); more {
		t.Fatalf("%s.jq gave more than one output", p.Name)
	}
	b, err := gojq.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v, nil
}

func decodeNumbers(t testing.TB, b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// render renders in with the profile and options, failing the test on bad
// options or a body that is not JSON.
func render(t testing.TB, p *profile.Profile, in *profile.Input, opts map[string]json.RawMessage) []byte {
	t.Helper()
	r, err := p.Renderer(opts)
	if err != nil {
		t.Fatalf("%s options: %v", p.Name, err)
	}
	body := r.Append(nil, in)
	if !json.Valid(body) {
		t.Fatalf("%s body is not JSON: %s", p.Name, body)
	}
	return body
}

// agree checks that the renderer and the program give the same JSON value.
// It reports false when the program fails on the input.
func agree(t testing.TB, p *profile.Profile, in *profile.Input, opts map[string]json.RawMessage) bool {
	t.Helper()
	body := render(t, p, in, opts)
	want, err := oracle(t, p, in, opts)
	if errors.Is(err, errProgram) {
		return false
	}
	var got any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		wb, _ := json.Marshal(want)
		t.Errorf("%s on %s %s\ndata %s\njob %+v\nrenderer %s\nprogram  %s", p.Name, in.ID, in.Type, in.Data, in.Job, body, wb)
	}
	return true
}

// envelope is a fixture event, read as the dispatcher would store it.
func envelope(t testing.TB, b []byte) *profile.Input {
	t.Helper()
	var e struct {
		ID, Type, Timestamp, Environment string
		TenantID                         string `json:"tenant_id"`
		Job                              *struct {
			ID, Kind      string
			PartnerParams json.RawMessage `json:"partner_params"`
		}
		Final, Test bool
		Data        json.RawMessage
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	in := &profile.Input{ID: e.ID, Type: e.Type, Timestamp: e.Timestamp, Environment: e.Environment,
		TenantID: e.TenantID, Final: e.Final, Test: e.Test, Data: e.Data}
	if e.Job != nil {
		in.Job = &profile.Job{ID: e.Job.ID, Kind: e.Job.Kind, PartnerParams: e.Job.PartnerParams}
	}
	return in
}
