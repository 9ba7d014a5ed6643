package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// PutEventType registers or replaces an event type, whose name the caller
// has checked. Its schema must compile and its example, when given, must
// satisfy it. created tells a new type from a replaced one.
func (m *Manager) PutEventType(ctx context.Context, t *domain.EventType) (created bool, err error) {
	if domain.IsJSONNull(t.Schema) {
		t.Schema = nil
	}
	if domain.IsJSONNull(t.Example) {
		t.Example = nil
	}
	if t.Schema != nil {
		sch, err := compileSchema(t.Schema)
		var ve *domain.ValidationError
		switch {
		case errors.As(err, &ve):
			return false, err
		case err != nil:
			return false, domain.Invalid("schema", "not a usable JSON Schema: %v", err)
		}
		if t.Example != nil {
			if err := validateData(sch, t.Example, "example"); err != nil {
				return false, err
			}
		}
	}
	t.UpdatedAt = domain.Now()
	if created, err = m.store.PutEventType(ctx, t); err != nil {
		return false, err
	}
	m.schemas.forget(t.Name)
	return created, nil
}

// compileSchema compiles a schema without letting it load anything from
// the network or the file system.
func compileSchema(doc json.RawMessage) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	if err := checkNumbers(v, "schema"); err != nil {
		return nil, err
	}
	return compileDecoded(inlineRefs(v))
}

// compileDecoded compiles a schema decoded as jsonschema.UnmarshalJSON
// decodes it.
func compileDecoded(v any) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("herald:schema.json", v); err != nil {
		return nil, err
	}
	return c.Compile("herald:schema.json")
}

// validateData checks data against a schema and names the first failing
// field, as "data.document.number".
func validateData(sch *jsonschema.Schema, data json.RawMessage, root string) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return domain.Invalid(root, "not valid JSON: %v", err)
	}
	return validateDecoded(sch, v, root)
}

// validateDecoded is validateData for data decoded already, as
// jsonschema.UnmarshalJSON decodes it.
func validateDecoded(sch *jsonschema.Schema, v any, root string) error {
	if err := checkNumbers(v, root); err != nil {
		return err
	}
	err := sch.Validate(v)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	// The first failure that is not only a summary of others names the
	// field: an allOf's, a reference's or a subschema's own "failed" comes
	// before the failure inside it that says what is wrong and where (an
	// if/then under allOf would name the object, not its field). anyOf and
	// oneOf are kept: which branch was meant is not known.
	out := ve.BasicOutput()
	var first *jsonschema.OutputUnit
	for i, u := range out.Errors {
		if u.Error == nil || len(u.Errors) > 0 {
			continue
		}
		if first == nil {
			first = &out.Errors[i]
		}
		switch u.Error.Kind.(type) {
		case *kind.Group, *kind.AllOf, *kind.Reference:
			continue
		}
		first = &out.Errors[i]
		break
	}
	if first != nil {
		field := root + strings.ReplaceAll(first.InstanceLocation, "/", ".")
		return domain.Invalid(field, "%s", first.Error.String())
	}
	return domain.Invalid(root, "does not match the event type's schema: %v", err)
}

// schemaCache keeps compiled schemas for publish. Entries live briefly so a
// type changed by another process takes effect within seconds.
type schemaCache struct {
	store store.Store
	mu    sync.Mutex
	m     map[string]schemaEntry
}

type schemaEntry struct {
	typ     *domain.EventType  // nil: not registered
	schema  *jsonschema.Schema // nil: not registered, or no schema
	fetched time.Time
}

const schemaTTL = 5 * time.Second

func newSchemaCache(st store.Store) *schemaCache {
	return &schemaCache{store: st, m: map[string]schemaEntry{}}
}

func (c *schemaCache) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

// get returns a registered type and its compiled schema; both nil for a
// type that is not registered.
func (c *schemaCache) get(ctx context.Context, name string) (*domain.EventType, *jsonschema.Schema, error) {
	c.mu.Lock()
	e, ok := c.m[name]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < schemaTTL {
		return e.typ, e.schema, nil
	}
	old := e
	e = schemaEntry{fetched: time.Now()}
	t, err := c.store.GetEventType(ctx, name)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, nil, err
	default:
		e.typ = t
		switch {
		case t.Schema == nil:
		case ok && old.typ != nil && old.schema != nil && bytes.Equal(old.typ.Schema, t.Schema):
			// Unchanged since it was compiled: compiling it again
			// every schemaTTL cost about 1 % of a single publish's
			// CPU (BenchmarkPublishSingle).
			e.schema = old.schema
		default:
			if e.schema, err = compileSchema(t.Schema); err != nil {
				return nil, nil, fmt.Errorf("compile stored schema of %s: %w", name, err)
			}
		}
	}
	c.mu.Lock()
	c.m[name] = e
	c.mu.Unlock()
	return e.typ, e.schema, nil
}

// CheckFilter refuses an endpoint's event-type filter that names a type
// not in the catalog (the registered event types), unless the caller
// allows unregistered names: a misspelt type matches nothing, silently.
func (m *Manager) CheckFilter(ctx context.Context, filter []string, allowUnregistered bool) error {
	if err := domain.ValidateFilter(filter); err != nil || allowUnregistered || len(filter) == 0 {
		return err
	}
	ts, err := m.store.ListEventTypes(ctx)
	if err != nil {
		return fmt.Errorf("check the event-type filter: %w", err)
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return domain.CheckFilterRegistered(filter, names)
}
