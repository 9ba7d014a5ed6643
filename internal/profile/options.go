package profile

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/heraldhq/herald/internal/domain"
)

// settings are the non-secret options a renderer reads.
type settings struct {
	tenantID             string
	typeMap              map[string]string
	includePartnerParams bool
}

// ValidateOptions checks an endpoint's profile_options against the named
// profile: an unknown profile or option, a value of the wrong JSON type or a
// missing required option is a *domain.ValidationError naming the field.
// A JSON null is an absent option.
func ValidateOptions(name string, opts map[string]json.RawMessage) error {
	p, ok := Get(name)
	if !ok {
		return domain.Invalid("profile", "unknown profile %q; the profiles are %s", name, names())
	}
	_, err := p.settings(opts)
	return err
}

// Masked is opts as the API shows them: each secret option's value is "****".
func (p *Profile) Masked(opts map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(opts))
	for k, v := range opts {
		if p.SecretOption(k) && !domain.IsJSONNull(v) {
			v = json.RawMessage(`"****"`)
		}
		out[k] = v
	}
	return out
}

// SecretOption says whether the option name is one of p's secret options.
func (p *Profile) SecretOption(name string) bool {
	o, ok := p.option(name)
	return ok && o.Secret
}

func (p *Profile) option(name string) (Option, bool) {
	i := slices.IndexFunc(p.Options, func(o Option) bool { return o.Name == name })
	if i < 0 {
		return Option{}, false
	}
	return p.Options[i], true
}

func (p *Profile) settings(opts map[string]json.RawMessage) (settings, error) {
	// Sorted, so that the first error reported does not depend on map order.
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var s settings
	for _, k := range keys {
		o, ok := p.option(k)
		if !ok {
			return s, domain.Invalid("profile_options."+k, "is not an option of profile %q%s", p.Name, p.optionList())
		}
		v := opts[k]
		if domain.IsJSONNull(v) {
			continue
		}
		if err := o.check(v); err != nil {
			return s, err
		}
		switch k {
		case "tenant_id":
			s.tenantID = decodeString(v)
		case "type_map":
			_ = json.Unmarshal(v, &s.typeMap) // checked
		case "include_partner_params":
			s.includePartnerParams = string(v) == "true"
		}
	}
	for _, o := range p.Options {
		if o.Required && domain.IsJSONNull(opts[o.Name]) {
			return s, domain.Invalid("profile_options."+o.Name, "is required by profile %q", p.Name)
		}
	}
	return s, nil
}

func (o Option) check(v json.RawMessage) error {
	field := "profile_options." + o.Name
	switch o.Type {
	case TypeString:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return domain.Invalid(field, "must be a string")
		}
		if s == "" {
			return domain.Invalid(field, "must not be empty")
		}
	case TypeBoolean:
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return domain.Invalid(field, "must be true or false")
		}
	case TypeStringMap:
		var m map[string]string
		if !domain.IsJSONObject(v) || json.Unmarshal(v, &m) != nil {
			return domain.Invalid(field, "must be an object whose values are strings")
		}
		for k, name := range m {
			if name == "" {
				return domain.Invalid(field+"."+k, "must not be empty")
			}
		}
	}
	return nil
}

func (p *Profile) optionList() string {
	if len(p.Options) == 0 {
		return ", which takes none"
	}
	ns := make([]string, len(p.Options))
	for i, o := range p.Options {
		ns[i] = o.Name
	}
	return "; its options are " + strings.Join(ns, ", ")
}

func names() string {
	ns := make([]string, len(registry))
	for i, p := range registry {
		ns[i] = p.Name
	}
	return strings.Join(ns, ", ")
}
