package dispatch

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/transform"
)

// Preview is the request an endpoint would get for ev signed at instant:
// its body, and its headers as the attempt log records them (credentials
// masked, signatures kept). A body-api-key member carries "****" for its
// key, which is a secret; nothing is sent and no OAuth2 token is fetched.
//
// A transform runs as it would for an attempt; its failure is a
// domain.ValidationError on the field transform with its reason.
func (d *Dispatcher) Preview(ctx context.Context, e domain.Endpoint, ev *domain.Event, instant time.Time) (body []byte, headers map[string]string, err error) {
	e.Signatures = append([]domain.Signature(nil), e.SignatureList()...)
	for i := range e.Signatures {
		if e.Signatures[i].Scheme == domain.SchemeBodyAPIKey {
			e.Signatures[i].APIKey = "****"
		}
	}
	ep, err := prepare(e, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	b, why := ep.render(ev, func(mode payloadMode) []byte { return render(ev, mode) })
	if why != "" {
		return nil, nil, domain.Invalid("payload_mode", "%s", why)
	}
	if ep.Transform != "" {
		if b, err = ep.transformed(ctx, d.cfg.Transforms, b); err != nil {
			var te *transform.Error
			var ve *domain.ValidationError
			if errors.As(err, &te) || errors.As(err, &ve) {
				return nil, nil, domain.Invalid("transform", "the transform fails on this event: %s", transformError(err))
			}
			return nil, nil, err
		}
	}
	body = ep.signed(b, instant)
	var sig [256]byte
	h := http.Header{}
	ep.setHeaders(h, d.cfg.UserAgent, ev.ID, instant.Unix(), ep.sign(sig[:0], ev.ID, instant.Unix(), body, instant), body)
	if ep.tokens != nil {
		h["Authorization"] = []string{"Bearer ****"}
	}
	return body, recordedHeaders(h, ep.authHeader, ep.shown), nil
}
