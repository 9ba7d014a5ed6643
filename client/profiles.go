package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// Profile is a built-in delivery profile and what it sets on an endpoint
// that names it.
type Profile struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Document    string          `json:"document"`
	Options     []ProfileOption `json:"options"`
	// Signatures are the schemes it signs with; the *_option fields name
	// the option that supplies each secret.
	Signatures        []ProfileSignature `json:"signatures"`
	Success           string             `json:"success"`
	SuccessFalseFails bool               `json:"success_false_fails"`
	RetryPolicy       string             `json:"retry_policy"`
	IdenticalRetries  bool               `json:"identical_retries"`
	// EventTypes is the default filter; empty is every type.
	EventTypes []string `json:"event_types"`
	// TypeNames map Herald's types to the document's names.
	TypeNames []ProfileTypeName `json:"type_names"`
}

// ProfileOption is one of a profile's options.
type ProfileOption struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Required bool            `json:"required"`
	Secret   bool            `json:"secret"`
	Default  json.RawMessage `json:"default,omitempty"`
	Doc      string          `json:"doc"`
}

// ProfileSignature is a signature scheme a profile sets.
type ProfileSignature struct {
	Scheme          string `json:"scheme"`
	Header          string `json:"header,omitempty"`
	Key             string `json:"key,omitempty"`
	Field           string `json:"field,omitempty"`
	Position        string `json:"position,omitempty"`
	SecretOption    string `json:"secret_option,omitempty"`
	PartnerIDOption string `json:"partner_id_option,omitempty"`
	APIKeyOption    string `json:"api_key_option,omitempty"`
}

// ProfileTypeName maps a Herald type to the document's name.
type ProfileTypeName struct {
	Type string `json:"type"`
	Name string `json:"name"`
	When string `json:"when,omitempty"`
}

type profileList struct {
	Data []Profile `json:"data"`
}

// PreviewRequest is an endpoint configuration and an event: EndpointID,
// Endpoint fields (over the stored endpoint when both are given), and
// EventID or Event.
type PreviewRequest struct {
	EndpointID string          `json:"endpoint_id,omitempty"`
	Endpoint   *EndpointUpdate `json:"endpoint,omitempty"`
	EventID    string          `json:"event_id,omitempty"`
	Event      *PublishEvent   `json:"event,omitempty"`
}

// Preview is what Herald would send: Body byte for byte, Headers as the
// attempt log records them.
type Preview struct {
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
}

var (
	listProfiles     = newRoute[none, none, profileList]("list-profiles", http.MethodGet, "/v1/profiles")
	previewTransform = newRoute[none, PreviewRequest, Preview]("preview-transform", http.MethodPost, "/v1/transforms/preview")
)

// ListProfiles lists the built-in delivery profiles, standard first.
func (c *Client) ListProfiles(ctx context.Context) ([]Profile, error) {
	out, err := listProfiles.call(ctx, c, nil, nil)
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// PreviewTransform answers with the body and headers Herald would send an
// endpoint configuration for an event; nothing is sent or saved.
func (c *Client) PreviewTransform(ctx context.Context, in *PreviewRequest) (*Preview, error) {
	return previewTransform.call(ctx, c, nil, in)
}
