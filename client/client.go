package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Environments of a tenant.
const (
	Sandbox    = "sandbox"
	Production = "production"
)

// Client calls Herald's API. It is safe for concurrent use; WithScope and
// WithToken return cheap copies that share its HTTP client.
type Client struct {
	base      string
	token     string
	tenant    string
	env       string
	hc        *http.Client
	userAgent string
	header    http.Header
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc instead of a client with a one
// minute timeout. Give it a HandlerTransport to call a handler in process.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithHeader adds a header to every request, such as X-Forwarded-Proto for
// a handler called in process on behalf of a browser's HTTPS request.
func WithHeader(name, value string) Option {
	return func(c *Client) { c.header.Add(name, value) }
}

// defaultTimeout outlasts a test send, whose attempt may take 30 s.
const defaultTimeout = time.Minute

// New returns a client of the API at baseURL (such as
// https://herald.example.com) that authenticates with token: the operator
// token, an API key or a portal session.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), token: token,
		hc: &http.Client{Timeout: defaultTimeout}, userAgent: "herald-go-client", header: http.Header{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithScope returns a copy of c whose tenant-scoped calls act for tenant
// and env (sandbox or production). Only the operator token needs it: an API
// key or a portal session is bound to its own scope.
func (c *Client) WithScope(tenant, env string) *Client {
	cp := *c
	cp.tenant, cp.env = tenant, env
	return &cp
}

// WithToken returns a copy of c that authenticates with tok.
func (c *Client) WithToken(tok string) *Client {
	cp := *c
	cp.token = tok
	return &cp
}

// Ptr returns a pointer to v, for the optional fields of an update.
func Ptr[T any](v T) *T { return &v }

// none stands for an absent query, request body or response body in a
// route's types.
type none struct{}

// route is one API operation: its operationId in the OpenAPI document, its
// method and path, and the Go types of its query parameters (Q), request
// body (In) and response body (Out). Every method calls the API through
// one, so the route table is the whole client as the API sees it.
type route[Q, In, Out any] struct {
	id, method, path string
}

// routeInfo is a route's description without its type parameters.
type routeInfo struct {
	Method, Path   string
	Query, In, Out reflect.Type
}

// routes lists every route by operation id, for the test that holds the
// client to the OpenAPI document.
var routes = map[string]routeInfo{}

func newRoute[Q, In, Out any](id, method, path string) route[Q, In, Out] {
	if _, dup := routes[id]; dup {
		panic("client: operation " + id + " declared twice")
	}
	routes[id] = routeInfo{Method: method, Path: path,
		Query: reflect.TypeFor[Q](), In: reflect.TypeFor[In](), Out: reflect.TypeFor[Out]()}
	return route[Q, In, Out]{id: id, method: method, path: path}
}

// call makes the operation with the path parameters args, in order, and
// decodes its answer.
func (r route[Q, In, Out]) call(ctx context.Context, c *Client, q *Q, in *In, args ...string) (*Out, error) {
	out, _, err := r.do(ctx, c, nil, q, in, args...)
	return out, err
}

// do is call with extra request headers, answering the response headers.
func (r route[Q, In, Out]) do(ctx context.Context, c *Client, header http.Header, q *Q, in *In, args ...string) (*Out, http.Header, error) {
	var query url.Values
	if q != nil {
		var err error
		if query, err = queryOf(q); err != nil {
			return nil, nil, fmt.Errorf("herald: %s: %w", r.id, err)
		}
	}
	var body any
	if in != nil {
		body = in
	}
	out := new(Out)
	h, err := c.send(ctx, r.id, r.method, expand(r.path, args), query, header, body, out)
	if err != nil {
		return nil, nil, err
	}
	return out, h, nil
}

// request builds one request of the API, with the client's credential,
// scope and headers.
func (c *Client) request(ctx context.Context, op, method, path string, query url.Values, header http.Header, body any) (*http.Request, error) {
	var reader io.Reader
	if body != nil {
		// Partner params and data go as the caller wrote them: not
		// HTML-escaped, their whitespace kept.
		var buf bytes.Buffer
		if err := encodeBody(&buf, body); err != nil {
			return nil, fmt.Errorf("herald: %s: encode the request: %w", op, err)
		}
		reader = &buf
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, reader)
	if err != nil {
		return nil, fmt.Errorf("herald: %s: %w", op, err)
	}
	maps.Copy(req.Header, c.header)
	maps.Copy(req.Header, header)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", c.userAgent)
	if c.tenant != "" {
		req.Header.Set("Herald-Tenant", c.tenant)
	}
	if c.env != "" {
		req.Header.Set("Herald-Environment", c.env)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// send makes one request and decodes a successful answer into out, or a
// failed one into *Error.
func (c *Client) send(ctx context.Context, op, method, path string, query url.Values, header http.Header, body, out any) (http.Header, error) {
	req, err := c.request(ctx, op, method, path, query, header, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("herald: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("herald: %s: read the answer: %w", op, err)
	}
	if resp.StatusCode >= 400 {
		return nil, fmt.Errorf("herald: %s: %w", op, problem(resp, data))
	}
	if raw, ok := out.(*ndjsonPage); ok {
		raw.Write(data)
		return resp.Header, nil
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("herald: %s: decode the answer: %w", op, err)
		}
	}
	return resp.Header, nil
}

// expand puts the path parameters args, escaped, in place of the {names}
// of path, in order.
func expand(path string, args []string) string {
	var b strings.Builder
	for _, a := range args {
		open := strings.IndexByte(path, '{')
		end := strings.IndexByte(path, '}')
		if open < 0 || end < open {
			break
		}
		b.WriteString(path[:open])
		b.WriteString(url.PathEscape(a))
		path = path[end+1:]
	}
	b.WriteString(path)
	return b.String()
}

var timeType = reflect.TypeFor[time.Time]()

// queryOf encodes a params struct (a pointer to one) as a query.
func queryOf(q any) (url.Values, error) {
	query := url.Values{}
	return query, encodeQuery(query, reflect.ValueOf(q).Elem())
}

// encodeQuery adds the non-zero fields of a params struct under their
// query tags; embedded structs contribute their fields.
func encodeQuery(q url.Values, v reflect.Value) error {
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if f.Anonymous {
			if err := encodeQuery(q, fv); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("query")
		if name == "" || fv.IsZero() {
			continue
		}
		if fv.Kind() == reflect.Pointer {
			fv = fv.Elem()
		}
		switch {
		case fv.Type() == timeType:
			q.Set(name, fv.Interface().(time.Time).UTC().Format(time.RFC3339Nano))
		case fv.Kind() == reflect.String:
			q.Set(name, fv.String())
		case fv.Kind() == reflect.Int:
			q.Set(name, strconv.FormatInt(fv.Int(), 10))
		case fv.Kind() == reflect.Bool:
			q.Set(name, strconv.FormatBool(fv.Bool()))
		default:
			return fmt.Errorf("query parameter %s: cannot encode a %s", name, fv.Type())
		}
	}
	return nil
}
