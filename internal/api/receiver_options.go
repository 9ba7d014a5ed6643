package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/webhook"
)

// applyReceiverOptions validates and applies how Herald talks to the
// receiver: payload mode, signing scheme, auth, TLS, compatibility
// signature.
func (s *Server) applyReceiverOptions(ctx context.Context, e *domain.Endpoint, f *endpointFields) error {
	if f.PayloadMode != nil {
		e.PayloadMode = *f.PayloadMode
	}
	if f.Signing != nil && *f.Signing != e.Signing {
		e.Signing = *f.Signing
		e.SigningPublicKey, e.SigningPrivateKey = "", ""
		if e.Signing == domain.SigningEd25519 {
			pub, priv, err := webhook.NewKeyPair()
			if err != nil {
				return err
			}
			e.SigningPublicKey, e.SigningPrivateKey = pub, priv
		}
	}
	if a := f.Auth; a != nil {
		if a.Type == "none" {
			e.Auth = nil
		} else {
			if err := a.Validate(); err != nil {
				return err
			}
			if a.Type == domain.AuthOAuth2 {
				if _, err := s.checkURL(ctx, e.Environment, "auth.token_url", a.TokenURL); err != nil {
					return err
				}
			}
			e.Auth = a
		}
	}
	if t := f.TLS; t != nil {
		if *t == (domain.EndpointTLS{}) {
			e.TLS = nil
		} else {
			if err := validateTLS(t); err != nil {
				return err
			}
			e.TLS = t
		}
	}
	if c := f.CompatSignature; c != nil {
		if c.Kind == "none" {
			e.CompatSignature = nil
		} else {
			if err := c.Validate(); err != nil {
				return err
			}
			e.CompatSignature = c
		}
	}
	return nil
}

// validateTLS parses what the TLS layer will use, with the parser the
// delivery path uses, so a bad or expired PEM is refused when it is saved
// rather than at every attempt.
func validateTLS(t *domain.EndpointTLS) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if _, err := egress.ParseTLS(t.ClientCertificate, t.ClientKey, t.CABundle); err != nil {
		// ParseTLS says "<ErrInvalidTLS>: tls.<field>: <why>".
		detail := strings.TrimPrefix(err.Error(), egress.ErrInvalidTLS.Error()+": ")
		field, msg, ok := strings.Cut(detail, ": ")
		if !ok || !strings.HasPrefix(field, "tls.") {
			field, msg = "tls.client_certificate", detail
		}
		return domain.Invalid(field, "%s", msg)
	}
	return nil
}

type egressIPs struct {
	IPs   []string `json:"ips" doc:"The addresses deliveries come from; receivers allowlist these."`
	Proxy bool     `json:"proxy" doc:"Whether deliveries leave through a fixed-address proxy."`
}

func (s *Server) registerEgress(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get-egress-ips", Method: http.MethodGet, Path: "/v1/egress-ips", Tags: []string{"Endpoints"},
		Summary:     "The addresses deliveries come from",
		Description: "For receivers that allowlist their callers' IP addresses. Empty when the operator has not published them.",
	}, func(ctx context.Context, _ *struct{}) (*Body[egressIPs], error) {
		ips := s.cfg.EgressIPs
		if ips == nil {
			ips = []string{}
		}
		return &Body[egressIPs]{Body: egressIPs{IPs: ips, Proxy: s.cfg.EgressProxy}}, nil
	})
}
