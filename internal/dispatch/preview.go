package dispatch

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald/internal/domain"
)

// Preview is the request an endpoint would get for ev signed at instant:
// its body, and its headers as the attempt log records them (credentials
// masked, signatures kept). A body-api-key member carries "****" for its
// key, which is a secret; nothing is sent and no OAuth2 token is fetched.
func (d *Dispatcher) Preview(e domain.Endpoint, ev *domain.Event, instant time.Time) (body []byte, headers map[string]string, err error) {
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
	body = ep.signed(b, instant)
	var sig [256]byte
	h := http.Header{}
	ep.setHeaders(h, d.cfg.UserAgent, ev.ID, instant.Unix(), ep.sign(sig[:0], ev.ID, instant.Unix(), body, instant), body)
	if ep.tokens != nil {
		h["Authorization"] = []string{"Bearer ****"}
	}
	return body, recordedHeaders(h, ep.authHeader, ep.shown), nil
}
