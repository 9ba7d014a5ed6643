package limit

import (
	"net/netip"
	"testing"
	"time"
)

func TestTheThrottleRemembersABoundedNumberOfClients(t *testing.T) {
	th := NewThrottle(60, 2)
	th.max = 100
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }
	for i := range 1000 {
		th.Fail(addr(i))
	}
	if n := th.Len(); n != 100 {
		t.Fatalf("remembers %d clients, want the bound of 100", n)
	}
	// The 900 it had no room for shared one bucket, which is spent: a new
	// client waits too, while a remembered one has its own token left.
	if _, ok := th.Check(addr(5000)); ok {
		t.Fatal("a client the table has no room for is not throttled")
	}
	if _, ok := th.Check(addr(1)); !ok {
		t.Fatal("a remembered client with a token left is throttled")
	}
}

func TestTheThrottleCountsAnIPv6SlashSixtyFourAsOneClient(t *testing.T) {
	th := NewThrottle(1, 3)
	for i := range 3 {
		th.Fail(netip.MustParseAddr("2001:db8:1:2::" + string(rune('a'+i))))
	}
	if wait, ok := th.Check(netip.MustParseAddr("2001:db8:1:2:ffff::1")); ok || wait < 30*time.Second {
		t.Fatalf("another address of the /64: ok %v, wait %s", ok, wait)
	}
	if _, ok := th.Check(netip.MustParseAddr("2001:db8:1:3::1")); !ok {
		t.Fatal("another /64 is throttled")
	}
	if _, ok := th.Check(netip.MustParseAddr("::ffff:192.0.2.1")); !ok {
		t.Fatal("an IPv4 client is throttled")
	}
}

func TestTheBudgetRefusesWhatDoesNotFitAndTakesItBackOnce(t *testing.T) {
	b := NewBudget(10, 6)
	r1, err := b.Take("a", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Take("a", 2); err != ErrTenantFull {
		t.Fatalf("a over its share: %v", err)
	}
	r2, err := b.Take("b", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Take("", 1); err != ErrProcessFull {
		t.Fatalf("over the process's: %v", err)
	}
	r1()
	r1()
	if all, a := b.InFlight("a"); all != 5 || a != 0 {
		t.Fatalf("after one release: all %d, a %d", all, a)
	}
	r2()
	if all, _ := b.InFlight(""); all != 0 {
		t.Fatalf("after both: %d", all)
	}
}
