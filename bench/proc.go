package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat
// (sysconf(_SC_CLK_TCK)); 100 on every Linux Herald runs on, asked of
// getconf when it is there.
var clockTicks = func() float64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

// procCPU returns a process's user+system CPU seconds, its threads
// included. withChildren adds the CPU of children it has reaped (the
// PostgreSQL postmaster's finished backends).
func procCPU(pid int, withChildren bool) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: split after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks float64
	last := 12 // f[11] utime, f[12] stime
	if withChildren {
		last = 14 // f[13] cutime, f[14] cstime
	}
	for k := 11; k <= last; k++ {
		v, err := strconv.ParseFloat(f[k], 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return ticks / clockTicks, nil
}

// procMemKB reads a field of /proc/<pid>/status in kB: VmHWM (peak RSS) or
// VmRSS (current).
func procMemKB(pid int, field string) (int64, error) {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v := strings.Fields(rest)
			if len(v) == 0 {
				break
			}
			return strconv.ParseInt(v[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux ≥ 4.0),
// so a phase's peak can be read on its own.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// systemCPU reads the machine's busy, stolen and total jiffies from
// /proc/stat. Busy includes steal: time the hypervisor gave to other guests
// was not ours to use either.
func systemCPU() (busy, steal, total float64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, 0
	}
	// user nice system idle iowait irq softirq steal (guest is inside user).
	for k := 1; k < len(f) && k <= 8; k++ {
		v, _ := strconv.ParseFloat(f[k], 64)
		total += v
		if k != 4 && k != 5 {
			busy += v
		}
		if k == 8 {
			steal = v
		}
	}
	return busy, steal, total
}

// postgresCPU sums the CPU of every process named postgres on this machine
// (the server, when it runs here): live backends plus what the postmaster
// has reaped, so backends that come and go are still counted.
func postgresCPU() (float64, bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var sum float64
	found := false
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		if v, err := procCPU(pid, true); err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// usage is a snapshot of what the scenario's processes have consumed.
type usage struct {
	at        time.Time
	herald    float64
	receiver  float64
	self      float64
	postgres  float64
	sysBusy   float64
	sysSteal  float64
	sysTotal  float64
	hasHerald bool
}

type usageSource struct {
	heraldPID   int
	receiverPID int
	postgres    bool
}

func (s usageSource) snap() usage {
	u := usage{at: time.Now()}
	if s.heraldPID > 0 {
		if v, err := procCPU(s.heraldPID, false); err == nil {
			u.herald, u.hasHerald = v, true
		}
	}
	if s.receiverPID > 0 {
		u.receiver, _ = procCPU(s.receiverPID, false)
	}
	u.self, _ = procCPU(os.Getpid(), false)
	if s.postgres {
		u.postgres, _ = postgresCPU()
	}
	u.sysBusy, u.sysSteal, u.sysTotal = systemCPU()
	return u
}

// CPU is the CPU each party used between two snapshots, in seconds, and
// the share of the whole machine that was busy.
type CPU struct {
	Herald    float64 `json:"herald_s"`
	Receiver  float64 `json:"receiver_s"`
	Publisher float64 `json:"publisher_s"`
	Postgres  float64 `json:"postgres_s,omitempty"`
	// MachineBusy is the busy share of all cores over the interval, 0..1.
	MachineBusy float64 `json:"machine_busy"`
	// Others is the CPU the rest of the machine used meanwhile (busy time
	// less the parties above and steal): interference, when it is large.
	Others float64 `json:"others_s"`
	// Steal is the CPU time the hypervisor gave to other guests while
	// this one had work: a slower machine, for the length of the run.
	Steal float64 `json:"steal_s"`
	Wall  float64 `json:"wall_s"`
}

func cpuBetween(a, b usage) CPU {
	c := CPU{
		Herald: b.herald - a.herald, Receiver: b.receiver - a.receiver, Publisher: b.self - a.self,
		Postgres: b.postgres - a.postgres, Wall: b.at.Sub(a.at).Seconds(),
	}
	if dt := b.sysTotal - a.sysTotal; dt > 0 {
		c.MachineBusy = (b.sysBusy - a.sysBusy) / dt
		busy := (b.sysBusy - a.sysBusy) / clockTicks
		c.Steal = (b.sysSteal - a.sysSteal) / clockTicks
		c.Others = max(0, busy-c.Steal-c.Herald-c.Receiver-c.Publisher-c.Postgres)
	}
	return c
}

// rssSampler records the highest VmRSS it sees, every interval: a check on
// VmHWM, and the peak of a phase when the kernel cannot reset VmHWM.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done sync.WaitGroup
	mu   sync.Mutex
	peak int64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := procMemKB(pid, "VmRSS"); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, v)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak in kB.
func (s *rssSampler) Stop() int64 {
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryMB  int64  `json:"memory_mb"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Postgres  string `json:"postgres,omitempty"`
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryMB = kb / 1024
				}
			}
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	return m
}
