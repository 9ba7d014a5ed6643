package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/domain"
)

// issueTypes is the catalog issue 4 asks for, point 8, and the operational
// events of issue 17.
var issueTypes = []string{
	"verification.created", "verification.started", "verification.step_completed",
	"verification.submitted", "verification.review_required", "verification.resubmission_requested",
	"verification.approved", "verification.rejected", "verification.completed",
	"verification.decision_updated", "verification.expired", "verification.canceled",
	"aml.screening.completed", "aml.match.found", "aml.match.dismissed", "aml.monitoring.updated",
	"invitation.sent", "invitation.expired", "invitation.cancelled",
	"message.otp.requested", "message.link.requested",
	"media.video_call.updated", "media.file.available",
	"spot_check.completed",
	"webhook.test",
	// Herald's operational events (issue 17).
	"endpoint.circuit_opened", "endpoint.disabled", "endpoint.recovered", "delivery.exhausted",
}

// compileSchema compiles like internal/api/event_types.go does: draft
// 2020-12 by default, nothing loaded from the network or the disk.
func compileSchema(t *testing.T, doc json.RawMessage) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("herald:schema.json", v); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile("herald:schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

func validate(sch *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

func byName(t *testing.T) map[string]domain.EventType {
	t.Helper()
	m := map[string]domain.EventType{}
	for _, et := range Types() {
		m[et.Name] = et
	}
	return m
}

func TestExamplesValidate(t *testing.T) {
	for _, et := range Types() {
		t.Run(et.Name, func(t *testing.T) {
			sch := compileSchema(t, et.Schema)
			if err := validate(sch, et.Example); err != nil {
				t.Fatalf("example does not satisfy the schema: %v", err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	ts := Types()
	seen := map[string]bool{}
	var names []string
	for _, et := range ts {
		if err := domain.ValidateEventTypeName("name", et.Name); err != nil {
			t.Error(err)
		}
		if seen[et.Name] {
			t.Errorf("%s defined twice", et.Name)
		}
		seen[et.Name] = true
		names = append(names, et.Name)
		if et.Description == "" || !strings.HasSuffix(et.Description, ".") {
			t.Errorf("%s: description %q should be one sentence", et.Name, et.Description)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("Types() is not sorted by name: %v", names)
	}
	for _, n := range issueTypes {
		if !seen[n] {
			t.Errorf("%s is missing from the catalog", n)
		}
	}
	for _, n := range names {
		if !slices.Contains(issueTypes, n) {
			t.Errorf("%s is in the catalog but not in this test's list (add it, and to docs/events.md)", n)
		}
	}
}

func TestSensitiveAndTTL(t *testing.T) {
	for _, et := range Types() {
		msg := strings.HasPrefix(et.Name, "message.")
		if et.Sensitive != msg {
			t.Errorf("%s: sensitive = %v, want %v", et.Name, et.Sensitive, msg)
		}
		if msg && et.TTLSeconds <= 0 {
			t.Errorf("%s: sensitive message without a TTL", et.Name)
		}
		if !msg && et.TTLSeconds != 0 {
			t.Errorf("%s: TTL %d on a type that is not a message", et.Name, et.TTLSeconds)
		}
	}
	m := byName(t)
	if got := m["message.otp.requested"].TTLSeconds; got != 300 {
		t.Errorf("message.otp.requested TTL = %d, want 300", got)
	}
	if got := m["message.link.requested"].TTLSeconds; got != 86400 {
		t.Errorf("message.link.requested TTL = %d, want 86400", got)
	}
}

// mutate decodes an example, applies f and encodes it again.
func mutate(t *testing.T, example json.RawMessage, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(example, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrokenExamplesFail shows the schemas reject what they should, so
// TestExamplesValidate is not vacuous.
func TestBrokenExamplesFail(t *testing.T) {
	for _, et := range Types() {
		t.Run(et.Name, func(t *testing.T) {
			sch := compileSchema(t, et.Schema)
			var s struct {
				Required []string `json:"required"`
			}
			if err := json.Unmarshal(et.Schema, &s); err != nil {
				t.Fatal(err)
			}
			for _, p := range s.Required {
				b := mutate(t, et.Example, func(m map[string]any) { delete(m, p) })
				if validate(sch, b) == nil {
					t.Errorf("example without required %q still validates", p)
				}
			}
			b := mutate(t, et.Example, func(m map[string]any) { m["status"] = "no_such_status" })
			if validate(sch, b) == nil {
				t.Error("example with a wrong status still validates")
			}
			if validate(sch, []byte(`"not an object"`)) == nil {
				t.Error("a string validates")
			}
			// Platforms may add fields of their own.
			b = mutate(t, et.Example, func(m map[string]any) { m["x_platform_extra"] = map[string]any{"any": 1} })
			if err := validate(sch, b); err != nil {
				t.Errorf("an extra property is refused: %v", err)
			}
		})
	}

	m := byName(t)
	cases := []struct {
		typ, why string
		f        func(map[string]any)
	}{
		{"verification.approved", "decision result not approved", func(m map[string]any) {
			m["decision"].(map[string]any)["result"] = "rejected"
		}},
		{"verification.approved", "check result outside the vocabulary", func(m map[string]any) {
			m["checks"].([]any)[0].(map[string]any)["result"] = "passed"
		}},
		{"verification.approved", "risk score above 100", func(m map[string]any) { m["risk_score"] = 101 }},
		{"verification.approved", "reviewed_by neither auto nor manual", func(m map[string]any) { m["reviewed_by"] = "robot" }},
		{"verification.rejected", "rejection without reasons", func(m map[string]any) {
			m["decision"].(map[string]any)["reasons"] = []any{}
		}},
		{"verification.rejected", "reason code not snake_case", func(m map[string]any) {
			m["decision"].(map[string]any)["reasons"].([]any)[0].(map[string]any)["code"] = "Face Mismatch"
		}},
		{"verification.decision_updated", "status and decision disagree", func(m map[string]any) {
			m["decision"].(map[string]any)["result"] = "rejected"
		}},
		{"message.otp.requested", "sms to an e-mail address", func(m map[string]any) { m["to"] = "john@example.com" }},
		{"message.otp.requested", "no code", func(m map[string]any) { delete(m, "code") }},
		{"message.link.requested", "email to a phone number", func(m map[string]any) { m["to"] = "+995512345678" }},
		{"message.link.requested", "plain-http link", func(m map[string]any) { m["link"] = "http://verify.example.com/s/x" }},
		{"aml.match.found", "match score above 1", func(m map[string]any) {
			m["match"].(map[string]any)["score"] = 95
		}},
		{"media.video_call.updated", "unknown recording status", func(m map[string]any) {
			m["recording"].(map[string]any)["status"] = "ready"
		}},
	}
	for _, c := range cases {
		et, ok := m[c.typ]
		if !ok {
			t.Fatalf("%s missing", c.typ)
		}
		sch := compileSchema(t, et.Schema)
		if validate(sch, mutate(t, et.Example, c.f)) == nil {
			t.Errorf("%s: broken example (%s) still validates", c.typ, c.why)
		}
	}
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// TestSchemaConventions checks the vocabulary rules docs/events.md states.
func TestSchemaConventions(t *testing.T) {
	for _, et := range Types() {
		t.Run(et.Name, func(t *testing.T) {
			var root map[string]any
			if err := json.Unmarshal(et.Schema, &root); err != nil {
				t.Fatal(err)
			}
			if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v", root["$schema"])
			}
			if root["type"] != "object" {
				t.Errorf("type = %v, want object", root["type"])
			}
			req, _ := root["required"].([]any)
			if !slices.Contains(req, any("status")) {
				t.Errorf("status is not required: %v", req)
			}
			defs, _ := root["$defs"].(map[string]any)
			walkSchema(t, "", root, defs)

			var ex map[string]any
			if err := json.Unmarshal(et.Example, &ex); err != nil {
				t.Fatal(err)
			}
			walkKeys(t, "example", ex)
		})
	}
}

// walkSchema checks that every property is snake_case and described, and
// that nothing closes a schema to additional properties.
func walkSchema(t *testing.T, at string, node any, defs map[string]any) {
	t.Helper()
	switch n := node.(type) {
	case []any:
		for _, v := range n {
			walkSchema(t, at, v, defs)
		}
	case map[string]any:
		if ap, ok := n["additionalProperties"]; ok && ap == false {
			t.Errorf("%s: additionalProperties is false; platforms must be able to add fields", at)
		}
		if props, ok := n["properties"].(map[string]any); ok {
			for k, v := range props {
				if !snake.MatchString(k) {
					t.Errorf("%s.%s: property name is not snake_case", at, k)
				}
				if !described(v, defs) {
					t.Errorf("%s.%s: property has no description", at, k)
				}
			}
		}
		for k, v := range n {
			if k == "if" || k == "then" || k == "else" {
				continue // conditional constraints on already described properties
			}
			walkSchema(t, at+"/"+k, v, defs)
		}
	}
}

func described(node any, defs map[string]any) bool {
	m, ok := node.(map[string]any)
	if !ok {
		return false
	}
	if d, ok := m["description"].(string); ok && d != "" {
		return true
	}
	if ref, ok := m["$ref"].(string); ok {
		if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
			return described(defs[name], defs)
		}
	}
	return false
}

func walkKeys(t *testing.T, at string, v any) {
	t.Helper()
	switch n := v.(type) {
	case []any:
		for _, e := range n {
			walkKeys(t, at+"[]", e)
		}
	case map[string]any:
		for k, e := range n {
			if !snake.MatchString(k) {
				t.Errorf("%s.%s: key is not snake_case", at, k)
			}
			walkKeys(t, at+"."+k, e)
		}
	}
}

func TestTypesReturnsCopies(t *testing.T) {
	a := Types()
	a[0].Name = "changed"
	a[0].Schema[0] = 'X'
	a[0].Example[0] = 'X'
	b := Types()
	if b[0].Name == "changed" || b[0].Schema[0] != '{' || b[0].Example[0] != '{' {
		t.Fatal("Types() shares memory between calls")
	}
	et, ok := Lookup("webhook.test")
	if !ok || et.Name != "webhook.test" || len(et.Schema) == 0 || len(et.Example) == 0 {
		t.Fatalf("Lookup(webhook.test) = %+v, %v", et, ok)
	}
	if _, ok := Lookup("no.such.type"); ok {
		t.Fatal("Lookup found a type that does not exist")
	}
}

// TestDocumented checks that docs/events.md has a section for every type.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range Types() {
		head := []byte("### `" + et.Name + "`")
		i := bytes.Index(doc, head)
		if i < 0 {
			t.Errorf("docs/events.md has no section \"### `%s`\"", et.Name)
			continue
		}
		section := doc[i+len(head):]
		if j := bytes.Index(section, []byte("\n#")); j >= 0 {
			section = section[:j]
		}
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(et.Schema, &s); err != nil {
			t.Fatal(err)
		}
		for p := range s.Properties {
			if !bytes.Contains(section, []byte("| `"+p+"` |")) {
				t.Errorf("docs/events.md, %s: field %s is not in the table", et.Name, p)
			}
		}
	}
}

// TestActionRequiredTypesRetryFast: the types that ask the tenant to act
// now (send a code, send a link) have the fast schedule, and it fits
// several attempts inside their TTL; every other type leaves the schedule
// to the endpoint.
func TestActionRequiredTypesRetryFast(t *testing.T) {
	for _, et := range Types() {
		actionRequired := et.Name == "message.otp.requested" || et.Name == "message.link.requested"
		if !actionRequired {
			if et.RetryPolicy != nil {
				t.Errorf("%s: retry policy %+v; only action-required types have one", et.Name, et.RetryPolicy)
			}
			continue
		}
		if et.RetryPolicy == nil || et.RetryPolicy.Preset != domain.PresetFast {
			t.Fatalf("%s: retry policy %+v, want the fast preset", et.Name, et.RetryPolicy)
		}
		// Attempts that begin within the TTL.
		var at time.Duration
		attempts := 1
		for made := 1; ; made++ {
			d, ok := et.RetryPolicy.NextDelay(made)
			if !ok || at+d >= time.Duration(et.TTLSeconds)*time.Second {
				break
			}
			at += d
			attempts++
		}
		if attempts < 6 {
			t.Errorf("%s: only %d attempts fit in its %d s TTL", et.Name, attempts, et.TTLSeconds)
		}
	}
}

// TestOperationalEventsAreCatalogued checks that every operational event
// type Herald publishes (domain.SignalTypes) has its schema here.
func TestOperationalEventsAreCatalogued(t *testing.T) {
	for _, name := range domain.SignalTypes {
		if !domain.IsSignalType(name) {
			t.Errorf("%s is in domain.SignalTypes but IsSignalType denies it", name)
		}
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s is not in the catalog", name)
		}
	}
}
