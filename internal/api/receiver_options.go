package api

import (
	"context"
	"strings"

	"github.com/heraldhq/herald/internal/credential"
	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/egress"
)

// applyReceiverOptions validates and applies how Herald talks to the
// receiver: payload mode, signing scheme, auth, TLS, signatures (or their
// older form, the compatibility signature).
func (s *Server) applyReceiverOptions(ctx context.Context, e *domain.Endpoint, f *EndpointFields) error {
	if f.PayloadMode != nil {
		e.PayloadMode = *f.PayloadMode
	}
	if f.Signing != nil && *f.Signing != e.Signing {
		e.Signing = *f.Signing
		e.SigningPublicKey, e.SigningPrivateKey = "", ""
		if e.Signing == domain.SigningEd25519 {
			pub, priv, err := credential.NewSigningKeyPair()
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
			a.KeepStored(e.Auth)
			if err := a.Validate(); err != nil {
				return err
			}
			if a.Type == domain.AuthOAuth2 {
				if _, err := s.rules.CheckURL(ctx, e.Environment, "auth.token_url", a.TokenURL); err != nil {
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
			t.KeepStored(e.TLS)
			if err := validateTLS(t); err != nil {
				return err
			}
			e.TLS = t
		}
	}
	if f.Signatures != nil && f.CompatSignature != nil {
		return domain.Invalid("compat_signature", "is the older form of signatures: give one or the other")
	}
	if f.Signatures != nil {
		list, err := domain.NormalizeSignatures(f.Signatures)
		if err != nil {
			return err
		}
		e.Signatures = list
	}
	if c := f.CompatSignature; c != nil {
		if c.Kind == "none" {
			e.ApplyCompatSignature(nil)
		} else {
			if err := c.Validate(); err != nil {
				return err
			}
			e.ApplyCompatSignature(c)
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
