package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

type eventTypeBody struct {
	Description string          `json:"description,omitempty" maxLength:"1000"`
	Schema      json.RawMessage `json:"schema,omitempty" doc:"A JSON Schema (draft 2020-12 unless $schema says otherwise) that every event's data must satisfy."`
	Example     json.RawMessage `json:"example,omitempty" doc:"Example data, used by test sends; must satisfy the schema."`
	Sensitive   bool            `json:"sensitive,omitempty" doc:"The data carries secrets (one-time codes, session links): the API never shows it, and it is erased once delivered."`
	TTLSeconds  int             `json:"ttl_seconds,omitempty" minimum:"0" maximum:"31536000" doc:"An event of this type is not delivered, nor retried, once this many seconds old; 0: no limit."`
}

func (s *Server) registerEventTypes(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "put-event-type", Method: http.MethodPut, Path: "/v1/event-types/{name}", Tags: []string{"Event types"},
		Summary: "Register or replace an event type", Metadata: operatorOnly,
	}, func(ctx context.Context, in *struct {
		Name string `path:"name" example:"verification.approved"`
		Body eventTypeBody
	}) (*struct {
		Status int
		Body   domain.EventType
	}, error) {
		if err := domain.ValidateEventTypeName("name", in.Name); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error(), &huma.ErrorDetail{Location: "path.name", Value: in.Name})
		}
		t := domain.EventType{
			Name: in.Name, Description: in.Body.Description, Schema: in.Body.Schema, Example: in.Body.Example,
			Sensitive: in.Body.Sensitive, TTLSeconds: in.Body.TTLSeconds, UpdatedAt: clock(),
		}
		if isNull(t.Schema) {
			t.Schema = nil
		}
		if isNull(t.Example) {
			t.Example = nil
		}
		if t.Schema != nil {
			sch, err := compileSchema(t.Schema)
			if err != nil {
				return nil, s.problem(domain.Invalid("schema", "not a usable JSON Schema: %v", err))
			}
			if t.Example != nil {
				if err := validateData(sch, t.Example, "example"); err != nil {
					return nil, s.problem(err)
				}
			}
		}
		created, err := s.store.PutEventType(ctx, &t)
		if err != nil {
			return nil, s.problem(err)
		}
		s.schemas.forget(t.Name)
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &struct {
			Status int
			Body   domain.EventType
		}{status, t}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-event-types", Method: http.MethodGet, Path: "/v1/event-types", Tags: []string{"Event types"},
		Summary: "List event types",
	}, func(ctx context.Context, _ *struct{}) (*Body[*List[domain.EventType]], error) {
		ts, err := s.store.ListEventTypes(ctx)
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*List[domain.EventType]]{Body: &List[domain.EventType]{Data: ts}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-event-type", Method: http.MethodGet, Path: "/v1/event-types/{name}", Tags: []string{"Event types"},
		Summary: "Get an event type",
	}, func(ctx context.Context, in *struct {
		Name string `path:"name"`
	}) (*Body[*domain.EventType], error) {
		t, err := s.store.GetEventType(ctx, in.Name)
		if err != nil {
			return nil, s.problem(err)
		}
		return &Body[*domain.EventType]{Body: t}, nil
	})
}

func isNull(b json.RawMessage) bool {
	return len(b) == 0 || string(bytes.TrimSpace(b)) == "null"
}

// compileSchema compiles a schema without letting it load anything from
// the network or the file system.
func compileSchema(doc json.RawMessage) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
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
	err = sch.Validate(v)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := ve.BasicOutput()
	for _, u := range out.Errors {
		if u.Error == nil || len(u.Errors) > 0 {
			continue
		}
		field := root + strings.ReplaceAll(u.InstanceLocation, "/", ".")
		return domain.Invalid(field, "%s", u.Error.String())
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
	e = schemaEntry{fetched: time.Now()}
	t, err := c.store.GetEventType(ctx, name)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, nil, err
	default:
		e.typ = t
		if t.Schema != nil {
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
