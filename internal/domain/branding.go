package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Branding is how the tenant portal presents itself to one tenant's
// people, for a platform that puts the portal in front of its customers:
// the name and logo in the header, the accent colour, and the sites that
// may show the portal in a frame.
type Branding struct {
	TenantID string `json:"tenant_id"`
	// Name is the tenant's name, shown when no display name is set.
	Name string `json:"name"`
	// DisplayName replaces Name in the portal's header and titles.
	DisplayName string `json:"display_name,omitempty"`
	// AccentColor is #rrggbb; the portal darkens it where text needs it.
	AccentColor string `json:"accent_color,omitempty"`
	// FrameAncestors are the origins (scheme://host[:port]) whose pages may
	// frame the portal; none means no other site may.
	FrameAncestors []string `json:"frame_ancestors,omitempty"`
	// Logo describes the stored image; its bytes are served by the portal.
	Logo      *Logo      `json:"logo,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Shown is the name the portal shows: the display name, or the tenant's.
func (b *Branding) Shown() string {
	if b.DisplayName != "" {
		return b.DisplayName
	}
	return b.Name
}

// Logo is a tenant's logo image: PNG or JPEG, small, checked by decoding.
type Logo struct {
	ContentType string `json:"content_type" example:"image/png"`
	Size        int    `json:"size" doc:"In bytes."`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	// SHA256 names this version of the image (the portal's address for it
	// changes with it, so a browser's cached copy is never stale).
	SHA256 string `json:"sha256"`
	Data   []byte `json:"-"`
}

// Bounds of a branding.
const (
	MaxDisplayName     = 100
	MaxFrameAncestors  = 10
	MaxLogoBytes       = 64 << 10
	MaxLogoSide        = 1024
	MaxReturnURLLength = 2048
)

var accentPattern = regexp.MustCompile(`^#[0-9a-f]{6}$`)

var hostPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// ParseAccentColor accepts #rrggbb (either case), returned lower-case; ""
// is no accent.
func ParseAccentColor(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s != "" && !accentPattern.MatchString(s) {
		return "", Invalid("accent_color", "%q is not a colour written as #rrggbb", s)
	}
	return s, nil
}

// ParseDisplayName trims a display name and bounds it.
func ParseDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxDisplayName {
		return "", Invalid("display_name", "is longer than %d bytes", MaxDisplayName)
	}
	// Bidi controls too: a name that reverses the text after it could
	// make the header read as another tenant's.
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) {
		return "", Invalid("display_name", "must not contain control characters")
	}
	return s, nil
}

// ParseFrameAncestors checks and normalises the origins that may frame the
// portal: each scheme://host[:port] with nothing after it, https unless
// the host is loopback (a developer's machine).
func ParseFrameAncestors(origins []string) ([]string, error) {
	if len(origins) > MaxFrameAncestors {
		return nil, Invalid("frame_ancestors", "has %d origins; at most %d", len(origins), MaxFrameAncestors)
	}
	out := make([]string, 0, len(origins))
	for i, o := range origins {
		field := fmt.Sprintf("frame_ancestors[%d]", i)
		u, err := trustworthyURL(field, strings.TrimSpace(o))
		if err != nil {
			return nil, err
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(u.Host, ":") {
			return nil, Invalid(field, "%q is not an origin: give scheme://host[:port] only", o)
		}
		origin := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(out, origin) {
			out = append(out, origin)
		}
	}
	return out, nil
}

// ParseReturnURL checks where a portal session sends the browser when it
// ends: an absolute https URL, or http on a loopback host.
func ParseReturnURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxReturnURLLength {
		return "", Invalid("return_url", "is longer than %d bytes", MaxReturnURLLength)
	}
	u, err := trustworthyURL("return_url", s)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// trustworthyURL parses an absolute https URL, or an http one whose host
// is loopback; neither may carry a user name or password.
func trustworthyURL(field, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, Invalid(field, "%q is not an absolute URL", s)
	}
	if u.User != nil {
		return nil, Invalid(field, "must not carry a user name or password")
	}
	// A host name of letters, digits, dots and dashes, or an IP address:
	// the origin goes into a Content-Security-Policy, where anything else
	// could end the directive.
	if host := u.Hostname(); net.ParseIP(host) == nil && !hostPattern.MatchString(strings.ToLower(host)) {
		return nil, Invalid(field, "%q does not have a plain host name", s)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return nil, Invalid(field, "%q must use https (http only for localhost and loopback addresses)", s)
		}
	default:
		return nil, Invalid(field, "%q must use https", s)
	}
	return u, nil
}

// IsLoopbackHost reports whether a host name (without port) is this
// machine: localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ParseLogo checks an uploaded logo: PNG or JPEG by its content (whatever
// the name claims), at most MaxLogoBytes and MaxLogoSide pixels a side.
// Only these are accepted because browsers render them without running
// anything in them (an SVG may hold script and outside references).
func ParseLogo(data []byte) (*Logo, error) {
	if len(data) == 0 {
		return nil, Invalid("logo", "is empty")
	}
	if len(data) > MaxLogoBytes {
		return nil, Invalid("logo", "is %d bytes; at most %d KiB", len(data), MaxLogoBytes>>10)
	}
	var (
		typ    string
		config func(io.Reader) (image.Config, error)
		decode func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		typ, config, decode = "image/png", png.DecodeConfig, png.Decode
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		typ, config, decode = "image/jpeg", jpeg.DecodeConfig, jpeg.Decode
	default:
		return nil, Invalid("logo", "is neither a PNG nor a JPEG image")
	}
	cfg, err := config(bytes.NewReader(data))
	if err != nil {
		return nil, Invalid("logo", "is not a readable %s image: %v", strings.TrimPrefix(typ, "image/"), err)
	}
	// The size is checked before the pixels are decoded: a small file may
	// claim a huge image.
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return nil, Invalid("logo", "is %d×%d pixels; at most %d a side", cfg.Width, cfg.Height, MaxLogoSide)
	}
	// Decoding the whole image proves it is one, not a header with
	// something else behind it.
	if _, err := decode(bytes.NewReader(data)); err != nil {
		return nil, Invalid("logo", "is not a readable %s image: %v", strings.TrimPrefix(typ, "image/"), err)
	}
	sum := sha256.Sum256(data)
	return &Logo{ContentType: typ, Size: len(data), Width: cfg.Width, Height: cfg.Height, SHA256: hex.EncodeToString(sum[:]), Data: data}, nil
}
