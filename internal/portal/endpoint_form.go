package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/client"
)

// The endpoint form, create and edit: every setting the API takes, the
// delivery profile and its options, and a preview of what would be sent.
// The rules are the API's; the form only reads what a browser cannot say
// in JSON.

// extraSignatures is how many signature rows the form offers beyond the
// profile's own.
const extraSignatures = 2

// masked is how the API shows a write-only value; given back, the API keeps
// the stored secret profile option, auth secret or client key (and refuses
// it where nothing stored applies).
const masked = "****"

// Settings a profile supplies, as the API names them in profile_fields.
const (
	fieldSuccess           = "success"
	fieldSuccessFalseFails = "success_false_fails"
	fieldRetryPolicy       = "retry_policy"
	fieldIdenticalRetries  = "identical_retries"
	fieldEventTypes        = "event_types"
)

// fromProfile is the choice, in a select, to leave a setting to the
// profile.
const fromProfile = "profile"

type endpointFormView struct {
	Form       *form
	Types      []client.EventType
	Chosen     []string
	Editing    *client.Endpoint
	RetryModes []string
	Profiles   []client.Profile
	SigRows    []string
	Preview    *client.Preview
}

// profiles lists the API's delivery profiles, read once.
func (p *Portal) profiles(st *state, r *http.Request) ([]client.Profile, error) {
	p.profileMu.Lock()
	defer p.profileMu.Unlock()
	if p.profileList == nil {
		list, err := st.api.ListProfiles(r.Context())
		if err != nil {
			return nil, err
		}
		p.profileList = list
	}
	return p.profileList, nil
}

func catalog(st *state, r *http.Request) ([]client.EventType, error) {
	ts, err := st.api.ListEventTypes(r.Context())
	if err != nil {
		return nil, err
	}
	return ts.Data, nil
}

// optField is the form field of a profile's option.
func optField(profile, option string) string { return "po." + profile + "." + option }

// sigField is the form field of an extra signature row's setting.
func sigField(row, name string) string { return "sig" + row + "_" + name }

func (p *Portal) showEndpointForm(w http.ResponseWriter, r *http.Request, st *state, status int, f *form, chosen []string, editing *client.Endpoint, preview *client.Preview) {
	types, err := catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	profiles, err := p.profiles(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	title := "New endpoint"
	if editing != nil {
		title = "Edit endpoint"
	}
	if f.V("preview_type") == "" && len(types) > 0 {
		f.Values["preview_type"] = types[0].Name
	}
	v := endpointFormView{Form: f, Types: types, Chosen: chosen, Editing: editing, Profiles: profiles, Preview: preview,
		RetryModes: []string{fromProfile, "default", "standard-webhooks", "once", "none", "fast", "custom"}}
	for i := range extraSignatures {
		v.SigRows = append(v.SigRows, strconv.Itoa(i))
	}
	pg := p.pageFor(st, r, title, v)
	pg.Nav = "endpoints"
	p.render(w, r, status, "endpoint_form.html", pg)
}

func (p *Portal) newEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	f := newForm()
	f.Values["profile"], f.Values["payload_mode"], f.Values["timeout_ms"], f.Values["signing"] = "standard", "envelope", "15000", "hmac"
	f.Values["response_body"] = "full"
	for _, k := range []string{"retry_preset", "success", "success_false_fails", "identical_retries"} {
		f.Values[k] = fromProfile
	}
	f.Values["event_types_profile"] = "on"
	f.Values["auth_type"], f.Values["ordering"] = "none", "none"
	p.showEndpointForm(w, r, st, http.StatusOK, f, nil, nil, nil)
}

// formFromEndpoint fills the edit form with an endpoint's settings; a
// setting the profile supplies shows as the profile's.
func formFromEndpoint(e *client.Endpoint) (*form, []string) {
	f := newForm()
	follows := func(name string) bool { return slices.Contains(e.ProfileFields, name) }
	f.Values["url"], f.Values["name"] = e.URL, e.Name
	f.Values["headers"] = formatHeaders(e.Headers)
	f.Values["headers_orig"] = f.Values["headers"]
	f.Values["retry_preset"] = e.RetryPolicy.Preset
	if len(e.RetryPolicy.Delays) > 0 {
		f.Values["retry_preset"], f.Values["retry_delays"] = "custom", strings.Join(e.RetryPolicy.Delays, ", ")
	}
	if f.Values["retry_preset"] == "" {
		f.Values["retry_preset"] = "default"
	}
	if follows(fieldRetryPolicy) {
		f.Values["retry_preset"] = fromProfile
	}
	f.Values["payload_mode"], f.Values["success"], f.Values["ordering"] = e.PayloadMode, e.Success, e.Ordering
	if follows(fieldSuccess) {
		f.Values["success"] = fromProfile
	}
	f.Values["success_false_fails"] = choice(e.SuccessFalseFails, follows(fieldSuccessFalseFails))
	f.Values["identical_retries"] = choice(e.IdenticalRetries, follows(fieldIdenticalRetries))
	f.Values["thin_partner_params"] = checked(e.ThinPartnerParams)
	f.Values["response_body"] = e.ResponseBody
	f.Values["timeout_ms"] = strconv.Itoa(e.TimeoutMS)
	f.Values["rate_limit"] = strconv.Itoa(e.RateLimit)
	f.Values["signing"] = e.Signing
	f.Values["auth_type"] = "keep"
	if a := e.Auth; a != nil {
		f.Values["auth_username"], f.Values["auth_header_name"] = a.Username, a.Name
		f.Values["auth_token_url"], f.Values["auth_client_id"], f.Values["auth_scope"], f.Values["auth_audience"] = a.TokenURL, a.ClientID, a.Scope, a.Audience
		f.Values["auth_basic_encoding"] = a.BasicEncoding
	}
	if t := e.TLS; t != nil {
		f.Values["tls_certificate"], f.Values["tls_ca"] = t.ClientCertificate, t.CABundle
	}
	f.Values["profile"], f.Values["transform"] = e.Profile, e.Transform
	for k, raw := range e.ProfileOptions {
		var s string
		switch {
		case json.Unmarshal(raw, &s) == nil:
		case string(raw) == "true":
			s = "on"
		case string(raw) == "false", string(raw) == "null":
		default:
			s = string(raw)
		}
		f.Values[optField(e.Profile, k)] = s
	}
	var chosen, extra []string
	if follows(fieldEventTypes) {
		f.Values["event_types_profile"] = "on"
	} else {
		for _, t := range e.EventTypes {
			if strings.Contains(t, "*") {
				extra = append(extra, t)
			} else {
				chosen = append(chosen, t)
			}
		}
	}
	f.Values["event_filters"] = strings.Join(extra, ", ")
	return f, chosen
}

// choice is a yes/no setting in its select.
func choice(v, followsProfile bool) string {
	switch {
	case followsProfile:
		return fromProfile
	case v:
		return "yes"
	}
	return "no"
}

func checked(v bool) string {
	if v {
		return "on"
	}
	return ""
}

// yesNo reads a choice: nil leaves the setting to the profile.
func yesNo(v string) *bool {
	switch v {
	case "yes":
		return client.Ptr(true)
	case "no":
		return client.Ptr(false)
	}
	return nil
}

func (p *Portal) editEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	e, err := getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	f, chosen := formFromEndpoint(e)
	p.showEndpointForm(w, r, st, http.StatusOK, f, chosen, e, nil)
}

func formatHeaders(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ": " + h[k] + "\n")
	}
	return b.String()
}

// endpointRequest reads the form into the API's endpoint change: the
// fields the form leaves out, or leaves to the profile, are nil. Only what
// the browser cannot express is checked here (the shape of the header
// lines, a number, JSON); the rules are the API's. editing is the stored
// endpoint, nil for a new one.
func endpointRequest(r *http.Request, editing *client.Endpoint, profiles []client.Profile) (*client.EndpointUpdate, *form, []string) {
	f := newForm()
	for _, k := range []string{"url", "name", "headers", "headers_orig", "retry_preset", "retry_delays", "payload_mode", "success",
		"success_false_fails", "identical_retries", "thin_partner_params", "signing", "event_types_profile", "signatures_reset",
		"timeout_ms", "event_filters", "auth_type", "auth_username", "auth_header_name", "auth_token_url", "auth_client_id",
		"auth_scope", "auth_audience", "auth_basic_encoding", "tls_remove", "default_callback", "preview_type", "allow_unregistered_types",
		"ordering", "rate_limit", "response_body"} {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	chosen := r.PostForm["event_types"]
	body := &client.EndpointUpdate{URL: client.Ptr(f.V("url")), Name: client.Ptr(f.V("name"))}
	var types []string
	for _, t := range strings.FieldsFunc(f.V("event_filters"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' }) {
		types = append(types, t)
	}
	if len(chosen) > 0 || len(types) > 0 || f.V("event_types_profile") != "on" {
		// Never nil: no type chosen subscribes to all of them.
		body.EventTypes = append(append([]string{}, chosen...), types...)
		body.AllowUnregisteredTypes = f.V("allow_unregistered_types") == "on"
	}
	if editing == nil || f.V("headers") != f.V("headers_orig") {
		h := map[string]string{}
		for i, line := range strings.Split(f.V("headers"), "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(k) == "" {
				f.Errors["headers"] = "line " + strconv.Itoa(i+1) + " is not Name: value"
				continue
			}
			h[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		body.Headers = h
	}
	switch preset := f.V("retry_preset"); preset {
	case "custom":
		var delays []string
		for _, d := range strings.FieldsFunc(f.V("retry_delays"), func(c rune) bool { return c == ',' || c == ' ' }) {
			delays = append(delays, d)
		}
		if len(delays) == 0 {
			f.Errors["retry_policy"] = "give the waits before each retry, such as 5s, 10m, 2h"
		}
		body.RetryPolicy = &client.RetryPolicy{Delays: delays}
	case "", fromProfile:
	default:
		body.RetryPolicy = &client.RetryPolicy{Preset: preset}
	}
	if v := f.V("payload_mode"); v != "" {
		body.PayloadMode = &v
	}
	if v := f.V("ordering"); v != "" {
		body.Ordering = &v
	}
	if v := f.V("success"); v != "" && v != fromProfile {
		body.Success = &v
	}
	body.SuccessFalseFails, body.IdenticalRetries = yesNo(f.V("success_false_fails")), yesNo(f.V("identical_retries"))
	body.ThinPartnerParams = client.Ptr(f.V("thin_partner_params") == "on")
	if v := f.V("response_body"); v != "" {
		body.ResponseBody = &v
	}
	if v := f.V("signing"); v != "" {
		body.Signing = &v
	}
	if v := f.V("timeout_ms"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			f.Errors["timeout_ms"] = "must be a whole number of milliseconds"
		}
		body.TimeoutMS = &n
	}
	// Left empty, the rate limit is none.
	body.RateLimit = client.Ptr(0)
	if v := f.V("rate_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.Errors["rate_limit"] = "must be a whole number of requests a second (0: no limit)"
		}
		body.RateLimit = &n
	}
	// The transform is sent as written ("" removes it); a browser sends
	// CRLF line ends, which would shift the columns the API's errors name.
	f.Values["transform"] = strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("transform"), "\r\n", "\n"))
	body.Transform = client.Ptr(f.V("transform"))
	readAuth(r, f, body, editing)
	readTLS(r, f, body, editing)
	p, opts := readProfile(r, f, body, editing, profiles)
	readSignatures(r, f, body, p, opts)
	if editing == nil && f.V("default_callback") == "on" {
		body.DefaultCallback = client.Ptr(true)
	}
	return body, f, chosen
}

// readAuth reads how Herald authenticates to the receiver. Its secrets are
// write-only: on edit, "unchanged" keeps the stored auth; choosing the
// stored auth's type with a secret left empty sends it as "****", which the
// API reads as "keep the stored one" (and refuses where none applies, such
// as an OAuth2 token URL changed), so the mask is never saved as a secret.
func readAuth(r *http.Request, f *form, body *client.EndpointUpdate, editing *client.Endpoint) {
	var stored *client.EndpointAuth
	if editing != nil {
		stored = editing.Auth
	}
	secret := func(name string) string {
		f.Values[name] = r.PostFormValue(name)
		if f.Values[name] == "" && stored != nil && stored.Type == f.V("auth_type") {
			return masked
		}
		return f.Values[name]
	}
	switch f.V("auth_type") {
	case "keep", "":
	case client.AuthNone:
		if editing != nil {
			body.Auth = &client.EndpointAuth{Type: client.AuthNone}
		}
	case client.AuthBasic:
		body.Auth = &client.EndpointAuth{Type: client.AuthBasic, Username: f.V("auth_username"), Password: secret("auth_password")}
	case client.AuthBearer:
		body.Auth = &client.EndpointAuth{Type: client.AuthBearer, Token: secret("auth_token")}
	case client.AuthHeader:
		body.Auth = &client.EndpointAuth{Type: client.AuthHeader, Name: f.V("auth_header_name"), Value: secret("auth_header_value")}
	case client.AuthOAuth2:
		body.Auth = &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: f.V("auth_token_url"), ClientID: f.V("auth_client_id"),
			ClientSecret: secret("auth_client_secret"), Scope: f.V("auth_scope"), Audience: f.V("auth_audience"),
			BasicEncoding: f.V("auth_basic_encoding")}
	default:
		body.Auth = &client.EndpointAuth{Type: f.V("auth_type")}
	}
}

// pem is a PEM text area's value: a browser sends CRLF line ends.
func pem(v string) string { return strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n")) }

// readTLS reads the client certificate and the CA bundle. The key is
// write-only: on edit the TLS settings are sent only when something in
// them changed, and a key left empty beside a certificate, on an endpoint
// that stores one, is sent as "****": the API keeps the stored key and
// checks that it is the certificate's.
func readTLS(r *http.Request, f *form, body *client.EndpointUpdate, editing *client.Endpoint) {
	t := client.EndpointTLS{ClientCertificate: pem(r.PostFormValue("tls_certificate")), ClientKey: pem(r.PostFormValue("tls_key")),
		CABundle: pem(r.PostFormValue("tls_ca"))}
	f.Values["tls_certificate"], f.Values["tls_key"], f.Values["tls_ca"] = t.ClientCertificate, t.ClientKey, t.CABundle
	var stored client.EndpointTLS
	if editing != nil && editing.TLS != nil {
		stored = *editing.TLS
	}
	switch {
	case f.V("tls_remove") == "on":
		if editing != nil {
			body.TLS = &client.EndpointTLS{}
		}
	case t.ClientKey != "" || t.ClientCertificate != pem(stored.ClientCertificate) || t.CABundle != pem(stored.CABundle):
		if t.ClientKey == "" && t.ClientCertificate != "" && stored.ClientKey != "" {
			t.ClientKey = masked
		}
		body.TLS = &t
	}
}

// readProfile reads the profile and the options of the chosen one (the
// form shows every profile's). A secret option left as the API shows it,
// or empty, on an endpoint that keeps one, is sent as "****": the API
// keeps the stored value. It returns the profile (nil for a name the API
// will refuse) and its options.
func readProfile(r *http.Request, f *form, body *client.EndpointUpdate, editing *client.Endpoint, profiles []client.Profile) (*client.Profile, map[string]json.RawMessage) {
	name := strings.TrimSpace(r.PostFormValue("profile"))
	if name == "" {
		name = "standard"
	}
	f.Values["profile"] = name
	body.Profile = &name
	i := slices.IndexFunc(profiles, func(p client.Profile) bool { return p.Name == name })
	if i < 0 {
		return nil, nil
	}
	p := &profiles[i]
	same := editing != nil && editing.Profile == name
	opts := map[string]json.RawMessage{}
	for _, o := range p.Options {
		key := optField(name, o.Name)
		v := r.PostFormValue(key)
		if !o.Secret {
			v = strings.TrimSpace(v)
		}
		f.Values[key] = v
		switch {
		case o.Type == "boolean":
			opts[o.Name] = json.RawMessage(strconv.FormatBool(v == "on"))
		case o.Secret && same && (v == "" || v == masked) && editing.ProfileOptions[o.Name] != nil:
			opts[o.Name] = json.RawMessage(strconv.Quote(masked))
		case v == "":
		case o.Type == "object":
			var m map[string]any
			if json.Unmarshal([]byte(v), &m) != nil {
				f.Errors[key] = `must be a JSON object, such as {"verification.approved": "approved"}`
				continue
			}
			opts[o.Name] = json.RawMessage(v)
		default:
			opts[o.Name], _ = json.Marshal(v)
		}
	}
	if len(opts) > 0 {
		body.ProfileOptions = opts
	}
	return p, opts
}

// readSignatures reads the signature rows. Signatures are a list the API
// replaces whole, so rows (or going back to the profile's list) send the
// profile's signatures, with their secrets from the options, then the rows.
func readSignatures(r *http.Request, f *form, body *client.EndpointUpdate, p *client.Profile, opts map[string]json.RawMessage) {
	var rows []client.Signature
	for i := range extraSignatures {
		row := strconv.Itoa(i)
		v := func(name string) string {
			k := sigField(row, name)
			f.Values[k] = r.PostFormValue(k)
			if name != "secret" && name != "api_key" {
				f.Values[k] = strings.TrimSpace(f.Values[k])
			}
			return f.Values[k]
		}
		s := client.Signature{Scheme: v("scheme"), Header: v("header"), Key: v("key"), Secret: v("secret"), PartnerID: v("partner_id"),
			APIKey: v("api_key"), Field: v("field"), Position: v("position")}
		if s.Scheme != "" {
			rows = append(rows, s)
		}
	}
	if p == nil || (len(rows) == 0 && f.V("signatures_reset") != "on") {
		return
	}
	list := []client.Signature{}
	for _, ps := range p.Signatures {
		s := client.Signature{Scheme: ps.Scheme, Header: ps.Header, Key: ps.Key, Field: ps.Field, Position: ps.Position}
		for _, o := range []struct {
			option string
			to     *string
		}{{ps.SecretOption, &s.Secret}, {ps.PartnerIDOption, &s.PartnerID}, {ps.APIKeyOption, &s.APIKey}} {
			if o.option == "" {
				continue
			}
			_ = json.Unmarshal(opts[o.option], o.to)
			if *o.to == masked {
				f.Errors[optField(p.Name, o.option)] = "give it again: signatures are saved as a whole list, with this option's value in the profile's signature"
			}
		}
		list = append(list, s)
	}
	body.Signatures = append(list, rows...)
}

// endpointCreate is the form's endpoint as a new one: what the form left
// out takes the API's default, or the profile's.
func endpointCreate(u *client.EndpointUpdate) *client.EndpointCreate {
	return &client.EndpointCreate{
		URL: deref(u.URL), Name: deref(u.Name), EventTypes: u.EventTypes, AllowUnregisteredTypes: u.AllowUnregisteredTypes, Headers: u.Headers, RetryPolicy: u.RetryPolicy,
		TimeoutMS: u.TimeoutMS, RateLimit: u.RateLimit, Success: deref(u.Success), DefaultCallback: u.DefaultCallback,
		PayloadMode: deref(u.PayloadMode), Auth: u.Auth, TLS: u.TLS, Signing: deref(u.Signing), Signatures: u.Signatures,
		SuccessFalseFails: u.SuccessFalseFails, IdenticalRetries: u.IdenticalRetries,
		ThinPartnerParams: u.ThinPartnerParams, Profile: deref(u.Profile), ProfileOptions: u.ProfileOptions,
		Transform: deref(u.Transform), Ordering: deref(u.Ordering), ResponseBody: deref(u.ResponseBody),
	}
}

// deref is what p points to, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// formErrors places the API's refusal on the form: each error under its
// top-level field, a nested one saying where (auth.token_url: …), since a
// fieldset holds several inputs.
func formErrors(ae *client.Error) map[string]string {
	c := *ae
	c.Errors = make([]client.FieldError, len(ae.Errors))
	for i, d := range ae.Errors {
		if loc := strings.TrimPrefix(d.Location, "body."); d.Field() != "" && loc != d.Field() {
			d.Message = loc + ": " + d.Message
		}
		c.Errors[i] = d
	}
	return c.Fields()
}

// formRefused is whether an API error belongs on the form rather than an
// error page.
func formRefused(ae *client.Error) bool {
	return ae != nil && ae.Status < 500 && ae.Status != http.StatusTooManyRequests && ae.Status != http.StatusNotFound
}

// previewEndpoint shows the form again with what the endpoint, as the form
// now sets it, would send for the chosen type's example naming the sample
// job: nothing is saved.
func (p *Portal) previewEndpoint(w http.ResponseWriter, r *http.Request, st *state, body *client.EndpointUpdate, f *form, chosen []string, editing *client.Endpoint) {
	types, err := catalog(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	data := json.RawMessage(`{}`)
	for _, t := range types {
		if t.Name == f.V("preview_type") && len(t.Example) > 0 {
			data = t.Example
		}
	}
	body.DefaultCallback = nil
	job := sampleJob
	req := &client.PreviewRequest{Endpoint: body, Event: &client.PublishEvent{Type: f.V("preview_type"), Data: data, Job: &job}}
	if editing != nil {
		req.EndpointID = editing.ID
	}
	preview, err := st.api.PreviewTransform(r.Context(), req)
	if err != nil {
		ae := problem(err)
		if !formRefused(ae) {
			p.fail(w, r, st, err)
			return
		}
		f.Errors = formErrors(ae)
		p.showEndpointForm(w, r, st, ae.Status, f, chosen, editing, nil)
		return
	}
	p.showEndpointForm(w, r, st, http.StatusOK, f, chosen, editing, preview)
}

func (p *Portal) createEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	profiles, err := p.profiles(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	body, f, chosen := endpointRequest(r, nil, profiles)
	if len(f.Errors) > 0 {
		p.showEndpointForm(w, r, st, http.StatusUnprocessableEntity, f, chosen, nil, nil)
		return
	}
	if r.PostFormValue("action") == "preview" {
		p.previewEndpoint(w, r, st, body, f, chosen, nil)
		return
	}
	created, err := st.api.CreateEndpoint(r.Context(), endpointCreate(body))
	if err != nil {
		if ae := problem(err); formRefused(ae) {
			f.Errors = formErrors(ae)
			p.showEndpointForm(w, r, st, ae.Status, f, chosen, nil, nil)
			return
		}
		p.fail(w, r, st, err)
		return
	}
	p.show(w, r, st, "secret.html", "endpoints", "Endpoint created", shownOnce{
		What: "signing secret", Secret: created.Secret,
		Note: "Copy the signing secret now: it is shown only once. Your receiver uses it to verify that callbacks come from us.",
		Back: "/portal/endpoints/" + created.ID, BackLabel: "Go to the endpoint",
	})
}

func (p *Portal) updateEndpoint(w http.ResponseWriter, r *http.Request, st *state) {
	e, err := getEndpoint(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	profiles, err := p.profiles(st, r)
	if err != nil {
		p.fail(w, r, st, err)
		return
	}
	body, f, chosen := endpointRequest(r, e, profiles)
	if len(f.Errors) == 0 && r.PostFormValue("action") == "preview" {
		p.previewEndpoint(w, r, st, body, f, chosen, e)
		return
	}
	if len(f.Errors) == 0 {
		_, err = st.api.UpdateEndpoint(r.Context(), e.ID, body)
		if err == nil {
			http.Redirect(w, r, "/portal/endpoints/"+url.PathEscape(e.ID)+"?done=Saved.", http.StatusSeeOther)
			return
		}
		ae := problem(err)
		if !formRefused(ae) {
			p.fail(w, r, st, err)
			return
		}
		f.Errors = formErrors(ae)
	}
	p.showEndpointForm(w, r, st, http.StatusUnprocessableEntity, f, chosen, e, nil)
}
