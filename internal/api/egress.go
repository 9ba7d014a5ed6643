package api

import "context"

type egressIPs struct {
	IPs   []string `json:"ips" doc:"The addresses deliveries come from; receivers allowlist these."`
	Proxy bool     `json:"proxy" doc:"Whether deliveries leave through a fixed-address proxy."`
}

func (s *Server) getEgressIPs(_ context.Context, _ *noParams) (*Body[egressIPs], error) {
	ips := s.cfg.EgressIPs
	if ips == nil {
		ips = []string{}
	}
	return &Body[egressIPs]{Body: egressIPs{IPs: ips, Proxy: s.cfg.EgressProxy}}, nil
}
