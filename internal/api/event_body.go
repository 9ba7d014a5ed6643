package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// A single publish's body is decoded into a tree once. huma checks a Body
// against its operation's schema by decoding it into an `any`, then decodes
// it again into the struct, and the event type's JSON Schema check decoded
// the data into a tree a second time. The single publish route takes the
// raw body instead (RawBody, with huma's body check skipped) and its
// Resolve decodes it: one tree, with numbers as json.Number as the schema
// check wants them, checked by huma's own validator against EventInput's
// schema; then the struct, as huma decoded it. A body this decode does not
// take is refused the way huma refuses it, from huma's own decode (refuse):
// a bad body gets the answer it got before, beside any refused header.

// maxEventBody and eventBodyReadTimeout are the bounds huma gives a Body by
// default, which the route had.
const (
	maxEventBody         = 1 << 20
	eventBodyReadTimeout = 5 * time.Second
)

// eventBodyDecoder decodes single publishes' bodies for one API: its
// formats and its schema of EventInput.
type eventBodyDecoder struct {
	api    huma.API
	schema *huma.Schema
}

type eventBodyKey struct{}

// decodeEventBodies is the single publish route's middleware: it hands the
// route's Resolve the decoder, which needs the API.
func decodeEventBodies(api huma.API) func(huma.Context, func(huma.Context)) {
	d := &eventBodyDecoder{api: api, schema: eventInputSchema(api)}
	return func(ctx huma.Context, next func(huma.Context)) {
		next(huma.WithValue(ctx, eventBodyKey{}, d))
	}
}

// eventInputSchema is EventInput's schema in the API's registry, as a Body
// of that type is described.
func eventInputSchema(api huma.API) *huma.Schema {
	return api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[EventInput](), true, "")
}

// describeEventBody describes the single publish's body as the EventInput
// it is, not as the bytes the route takes.
func describeEventBody(api huma.API) {
	op := api.OpenAPI().Paths["/v1/events"].Post
	op.RequestBody.Content["application/json"].Schema = eventInputSchema(api)
}

// Resolve decodes the body huma has read into the event.
func (in *publishInput) Resolve(ctx huma.Context) []error {
	d, ok := ctx.Context().Value(eventBodyKey{}).(*eventBodyDecoder)
	if !ok {
		return []error{errors.New("publish: the body decoder is not installed")}
	}
	var errs []error
	in.event, errs = d.decode(ctx.Header("Content-Type"), in.RawBody)
	return errs
}

// decode decodes a body into its event, with the data also decoded for the
// schema check, or returns huma's refusal of it.
func (d *eventBodyDecoder) decode(contentType string, body []byte) (EventInput, []error) {
	var tree numberTree
	if err := d.api.Unmarshal(contentType, body, &tree); err != nil || !fitsFloat64(tree.v) {
		return d.refuse(contentType, body)
	}
	if res := d.validate(tree.v); len(res.Errors) > 0 {
		return d.refuse(contentType, body)
	}
	var in EventInput
	if err := d.api.Unmarshal(contentType, body, &in); err != nil {
		return d.refuse(contentType, body)
	}
	in.decodedData = tree.data()
	return in, nil
}

// refuse decodes a body as huma does, into an `any` with numbers as
// float64, and answers as huma answers: a body that does not decode is
// refused with 400 (415 for a content type without a format), one that
// does not match the schema with its validation errors. A body it takes
// after all is decoded into the event, the data left for the schema check
// to decode.
func (d *eventBodyDecoder) refuse(contentType string, body []byte) (EventInput, []error) {
	var v any
	if err := d.api.Unmarshal(contentType, body, &v); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, huma.ErrUnknownContentType) {
			status = http.StatusUnsupportedMediaType
		}
		return EventInput{}, []error{statusDetail{&huma.ErrorDetail{Location: "body", Message: err.Error(), Value: string(body)}, status}}
	}
	if res := d.validate(v); len(res.Errors) > 0 {
		return EventInput{}, res.Errors
	}
	var in EventInput
	if err := d.api.Unmarshal(contentType, body, &in); err != nil {
		return EventInput{}, []error{&huma.ErrorDetail{Location: "body", Message: err.Error(), Value: string(body)}}
	}
	return in, nil
}

func (d *eventBodyDecoder) validate(v any) *huma.ValidateResult {
	res := &huma.ValidateResult{}
	pb := huma.NewPathBuffer(make([]byte, 0, 64), 0)
	pb.Push("body")
	huma.Validate(d.api.OpenAPI().Components.Schemas, d.schema, pb, huma.ModeWriteToServer, v, res)
	return res
}

// statusDetail is an error detail that sets the answer's status, as huma
// sets it for a body that does not decode.
type statusDetail struct {
	detail *huma.ErrorDetail
	status int
}

func (e statusDetail) Error() string                  { return e.detail.Error() }
func (e statusDetail) ErrorDetail() *huma.ErrorDetail { return e.detail }
func (e statusDetail) GetStatus() int                 { return e.status }

// numberTree decodes a JSON value as jsonschema.UnmarshalJSON does, numbers
// as json.Number, whatever format huma found for the content type decodes
// it with.
type numberTree struct{ v any }

func (t *numberTree) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(&t.v)
}

// data is the body's data as the struct took it: the value of the key
// "data", or nil when another spelling of it (encoding/json matches keys
// regardless of case) may have been taken instead.
func (t *numberTree) data() any {
	m, _ := t.v.(map[string]any)
	var data any
	for k, v := range m {
		if !strings.EqualFold(k, "data") {
			continue
		}
		if k != "data" {
			return nil
		}
		data = v
	}
	return data
}

// fitsFloat64 reports whether every number of v is within float64's range,
// which huma's decode into an `any` requires (1e400 is refused there).
// Without an exponent, fewer than 300 characters always are.
func fitsFloat64(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			if !fitsFloat64(e) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !fitsFloat64(e) {
				return false
			}
		}
	case json.Number:
		if len(v) < 300 && !strings.ContainsAny(string(v), "eE") {
			return true
		}
		_, err := strconv.ParseFloat(string(v), 64)
		return err == nil
	}
	return true
}
