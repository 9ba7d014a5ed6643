package profile_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/profile"
)

func TestOptionsAreCheckedAndABadOneIsNamed(t *testing.T) {
	for _, c := range []struct {
		profile, opts, field string // field "" is valid
	}{
		{"standard", `{}`, ""},
		{"standard", `{"api_key":"x"}`, "profile_options.api_key"},
		{"smile-id", `{"partner_id":"085","api_key":"k"}`, ""},
		{"smile-id", `{"partner_id":85,"api_key":"k"}`, "profile_options.partner_id"}, // leading zeros: a string
		{"smile-id", `{"partner_id":"085"}`, "profile_options.api_key"},
		{"smile-id", `{"partner_id":"085","api_key":null}`, "profile_options.api_key"},
		{"smile-id", `{"partner_id":"","api_key":"k"}`, "profile_options.partner_id"},
		{"incode", `{"partner_id":"085"}`, "profile_options.partner_id"},
		{"smart-kyc", `{"api_secret":"s","tenant_id":"t","type_map":{"verification.started":"submission.started"}}`, ""},
		{"smart-kyc", `{"api_secret":"s","type_map":{"verification.started":1}}`, "profile_options.type_map"},
		{"smart-kyc", `{"api_secret":"s","type_map":["x"]}`, "profile_options.type_map"},
		{"smart-kyc", `{"api_secret":"s","type_map":{"verification.started":""}}`, "profile_options.type_map.verification.started"},
		{"smart-kyc", `{"api_secret":true}`, "profile_options.api_secret"},
		{"identomat", `{"callback_api_key":"k"}`, ""},
		{"identomat", `{}`, "profile_options.callback_api_key"},
		{"idwise", `{}`, ""},
		{"idwise", `{"include_partner_params":true}`, ""},
		{"idwise", `{"include_partner_params":"yes"}`, "profile_options.include_partner_params"},
		{"nope", `{}`, "profile"},
	} {
		err := profile.ValidateOptions(c.profile, opts(c.opts))
		var ve *domain.ValidationError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s %s: %v", c.profile, c.opts, err)
		case c.field != "" && (!errors.As(err, &ve) || ve.Field != c.field):
			t.Errorf("%s %s: error %v, want one naming %s", c.profile, c.opts, err, c.field)
		}
	}
}

func TestSecretOptionsAreMaskedAndTheRestShown(t *testing.T) {
	p := mustGet(t, "smart-kyc")
	got := p.Masked(opts(`{"api_secret":"skyc_5f2b8e1d9c7a4b3e","tenant_id":"t1"}`))
	if string(got["api_secret"]) != `"****"` || string(got["tenant_id"]) != `"t1"` {
		t.Fatalf("masked = %s", got)
	}
	for _, p := range profile.All() {
		for _, s := range p.Signatures {
			for _, name := range []string{s.SecretOption, s.APIKeyOption} {
				if o := option(p, name); name != "" && (o == nil || !o.Secret || !o.Required) {
					t.Errorf("%s: signature %s takes its secret from %q, which is not a required secret option", p.Name, s.Scheme, name)
				}
			}
		}
	}
}

func option(p *profile.Profile, name string) *profile.Option {
	for i := range p.Options {
		if p.Options[i].Name == name {
			return &p.Options[i]
		}
	}
	return nil
}

func TestTheRegistryListsTheSixProfilesWithWhatEachSets(t *testing.T) {
	var names []string
	for _, p := range profile.All() {
		names = append(names, p.Name)
		if got, ok := profile.Get(p.Name); !ok || got != p {
			t.Errorf("Get(%q) = %v, %v", p.Name, got, ok)
		}
		if p.Signatures[0].Scheme != domain.SchemeStandardWebhooks || p.Success == "" || p.RetryPolicy == "" || p.Document == "" {
			t.Errorf("%s sets too little: %+v", p.Name, p)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Errorf("%s does not encode: %v", p.Name, err)
		}
	}
	if want := "[standard smile-id incode smart-kyc identomat idwise]"; fmt.Sprint(names) != want {
		t.Fatalf("profiles = %v", names)
	}
	in := mustGet(t, "incode")
	if in.Success != domain.SuccessJSONOr204 || !in.SuccessFalseFails || in.RetryPolicy != domain.PresetOnce || !in.IdenticalRetries {
		t.Fatalf("incode sets %+v", in)
	}
	if _, ok := profile.Get("Standard"); ok {
		t.Fatal("names are exact")
	}
}
