package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/server/servertest"
)

func TestProductionDestinationsMustUseHTTPS(t *testing.T) {
	h := servertest.Start(t, func(s *servertest.Settings) { s.Config.ProductionHTTPSOnly = true })
	h.Tenant("acme")
	_, err := h.As("acme", "production").CreateEndpoint(t.Context(), &client.EndpointCreate{URL: "http://127.0.0.1:9/x"})
	if e := servertest.Refused(t, err, http.StatusUnprocessableEntity); !names(e, "body.url") || !strings.Contains(e.Error(), "https") {
		t.Fatalf("answer: %v", e)
	}
	h.Endpoint("acme", "production", client.EndpointCreate{URL: "https://127.0.0.1:9/x"})
	h.Endpoint("acme", "sandbox", client.EndpointCreate{URL: "http://127.0.0.1:9/x"})
	_, err = h.As("acme", "production").Publish(t.Context(), &client.PublishEvent{Type: "a.b", Data: json.RawMessage(`{}`),
		Job: &client.JobRef{ID: "j", CallbackURL: "http://127.0.0.1:9/j"}})
	servertest.Refused(t, err, http.StatusUnprocessableEntity)
}

func TestEgressAddressesArePublished(t *testing.T) {
	h := servertest.Start(t, func(s *servertest.Settings) {
		s.Config.EgressIPs = []string{"203.0.113.7", "203.0.113.8"}
	})
	h.Tenant("acme")
	key := h.APIKey("acme", "sandbox").Key
	if got := servertest.Must(h.Client.WithToken(key).GetEgressIPs(t.Context()))(t); len(got.IPs) != 2 || got.IPs[0] != "203.0.113.7" {
		t.Fatalf("egress ips = %+v", got)
	}
}

func TestBadReceiverOptionsAreRefusedWithTheField(t *testing.T) {
	h := servertest.Start(t)
	h.Tenant("acme")
	const u = "http://127.0.0.1:9/x"
	cases := map[string]client.EndpointCreate{
		"body.auth.password":            {URL: u, Auth: &client.EndpointAuth{Type: client.AuthBasic, Username: "u"}},
		"body.auth.token_url":           {URL: u, Auth: &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: "ftp://x", ClientID: "a", ClientSecret: "b"}},
		"body.auth.basic_encoding":      {URL: u, Auth: &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: "https://x.example/t", ClientID: "a", ClientSecret: "b", BasicEncoding: "utf16"}},
		"body.tls.client_certificate":   {URL: u, TLS: &client.EndpointTLS{ClientCertificate: "nope", ClientKey: "nope"}},
		"body.compat_signature.header":  {URL: u, CompatSignature: &client.CompatSignature{Kind: client.CompatHMACHex}},
		"body.compat_signature.api_key": {URL: u, CompatSignature: &client.CompatSignature{Kind: client.CompatBodyAPIKey, Field: "k"}},
		"body.payload_mode":             {URL: u, PayloadMode: "fat"},
		"body.signing":                  {URL: u, Signing: "rsa"},
	}
	for loc, in := range cases {
		_, err := h.As("acme", "sandbox").CreateEndpoint(t.Context(), &in)
		e := servertest.Refused(t, err, http.StatusUnprocessableEntity)
		named := false
		for _, f := range e.Errors {
			named = named || strings.HasPrefix(f.Location, loc)
		}
		if !named {
			t.Errorf("%s: %v", loc, e)
		}
	}
}

// TestEverySpellingOfAnInternalAddressIsRefusedAtSave saves endpoint URLs
// whose host is an internal address written in every way a client or a
// resolver reads as that address (fullwidth and circled digits, ideographic
// and fullwidth full stops, trailing dots, localhost names, the decimal,
// octal and hex IPv4 forms, IPv4-mapped IPv6): each is a 422 naming url,
// and no endpoint is saved.
func TestEverySpellingOfAnInternalAddressIsRefusedAtSave(t *testing.T) {
	h := servertest.Start(t, func(s *servertest.Settings) { s.Config.Egress.AllowPrivate = false })
	h.Tenant("acme")
	sc := h.As("acme", "sandbox")
	hosts := []string{
		"127.0.0.1", "127.0.0.1.", "127.0.0.1..",
		"１２７.０.０.１",                   // fullwidth digits
		"127。0。0。1",                   // ideographic full stop
		"127．0．0．1",                   // fullwidth full stop
		"127｡0｡0｡1",                   // halfwidth ideographic full stop
		"１２７。０。０。１。",                  // all of it, with a trailing stop
		"①②⑦.⓪.⓪.①",                   // circled digits
		"１０.０.０.５", "１６９.２５４.１６９.２５４", // private and metadata, fullwidth
		"localhost", "localhost.", "LOCALHOST.", "ｌｏｃａｌｈｏｓｔ", "ｌｏｃａｌｈｏｓｔ。", "api.localhost", "api.localhost.",
		"0x7f.1", "0x7f.0.0.1", "0x7f000001", "0X7F000001", "2130706433", "0177.0.0.1", "017700000001", "127.1", "127.0.1",
		"0", "0x0", "0.0.0.0", "167772165", "0xa9fea9fe", "0251.0376.0251.0376",
		"[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::ffff:a9fe:a9fe]",
		"[::127.0.0.1]", "[64:ff9b::7f00:1]", "[fe80::1%25eth0]", "[fd00::1]",
	}
	for _, host := range hosts {
		u := "http://" + host + ":9/hook"
		_, err := sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: u})
		e := servertest.Refused(t, err, http.StatusUnprocessableEntity)
		if !names(e, "body.url") {
			t.Errorf("%s: answer names no url: %v", u, e)
		}
	}
	if eps := servertest.Must(sc.ListEndpoints(t.Context(), nil))(t); len(eps.Data) != 0 {
		t.Fatalf("saved: %+v", eps.Data)
	}
	// A public address written plainly is still taken.
	servertest.Must(sc.CreateEndpoint(t.Context(), &client.EndpointCreate{URL: "http://203.0.114.7:9/hook"}))(t)
}
