package limit

import (
	"errors"
	"sync"
)

// Budget bounds the bytes of request bodies being read and worked on at
// once: in the whole process, and per tenant, so that one tenant's large
// publishes cannot take all of it. A publish costs a few times its body in
// memory while it is decoded, checked and stored; bounding the bodies in
// flight bounds that.
type Budget struct {
	total, perTenant int64

	mu       sync.Mutex
	used     int64
	byTenant map[string]int64
}

// Refusals of Take.
var (
	ErrProcessFull = errors.New("the process has as many request bytes in flight as it takes")
	ErrTenantFull  = errors.New("the tenant has as many request bytes in flight as it may")
)

// NewBudget allows total bytes in flight, perTenant of them to one tenant.
// A bound <= 0 is no bound.
func NewBudget(total, perTenant int64) *Budget {
	return &Budget{total: total, perTenant: perTenant, byTenant: map[string]int64{}}
}

// Take reserves n bytes for tenant ("" counts against the process only).
// release gives them back; it may be called more than once.
func (b *Budget) Take(tenant string, n int64) (release func(), err error) {
	if b == nil || n <= 0 {
		return func() {}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if tenant != "" && b.perTenant > 0 && b.byTenant[tenant]+n > b.perTenant {
		return nil, ErrTenantFull
	}
	if b.total > 0 && b.used+n > b.total {
		return nil, ErrProcessFull
	}
	b.used += n
	if tenant != "" {
		b.byTenant[tenant] += n
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.used -= n
			if tenant != "" {
				if b.byTenant[tenant] -= n; b.byTenant[tenant] <= 0 {
					delete(b.byTenant, tenant)
				}
			}
		})
	}, nil
}

// InFlight is the bytes reserved now, in all and by tenant.
func (b *Budget) InFlight(tenant string) (all, ofTenant int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.byTenant[tenant]
}
