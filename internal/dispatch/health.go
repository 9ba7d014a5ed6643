package dispatch

import (
	"context"
	"log/slog"

	"github.com/heraldhq/herald/internal/domain"
	"github.com/heraldhq/herald/internal/store"
)

// signalHealth tells Signals, and the log, of the changes of endpoints'
// health that recording these outcomes made (the store decides them, in
// the record's transaction, so each is told by the one process that made
// it): a circuit opened, an endpoint disabled, an endpoint recovered (its
// circuit closed, or its first success after it was enabled again).
func (d *Dispatcher) signalHealth(outcomes []store.Outcome) {
	ctx := context.Background()
	for i := range outcomes {
		o := &outcomes[i]
		recovered := false
		for _, c := range o.Changes {
			var typ string
			switch c.Kind {
			case domain.HealthOpened:
				typ = domain.SignalCircuitOpened
			case domain.HealthDisabled:
				typ = domain.SignalEndpointDisabled
			case domain.HealthClosed, domain.HealthRecovered:
				if recovered {
					continue
				}
				recovered, typ = true, domain.SignalEndpointRecovered
			default:
				continue
			}
			d.log.LogAttrs(ctx, slog.LevelInfo, "endpoint health changed", slog.String("change", typ),
				slog.String("tenant", o.Scope.TenantID), slog.String("environment", string(o.Scope.Environment)),
				slog.String("endpoint", o.EndpointID), slog.String("reason", domain.WithoutURL(c.Reason)))
			d.cfg.Signals.Signal(ctx, domain.Signal{
				Type: typ, TenantID: o.Scope.TenantID, Environment: o.Scope.Environment, EndpointID: o.EndpointID,
				Reason: domain.WithoutURL(c.Reason), At: c.At,
			})
		}
	}
}
