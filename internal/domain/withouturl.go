package domain

import "strings"

// WithoutURL drops the URLs Go's HTTP client puts in its errors
// (`Post "https://…": dial tcp: …`, also inside an OAuth2 token error):
// an endpoint's URL may carry a token in its query.
func WithoutURL(msg string) string {
	for _, verb := range []string{`Post "`, `Get "`} {
		for {
			i := strings.Index(msg, verb)
			if i < 0 {
				break
			}
			j := strings.Index(msg[i+len(verb):], `": `)
			if j < 0 {
				break
			}
			msg = msg[:i] + verb[:len(verb)-2] + ": " + msg[i+len(verb)+j+3:]
		}
	}
	return msg
}
