//go:build linux

// Command loadtest measures what users run: the real `rolecall serve`
// binary in the state a user is in (two signed-in sso-sessions, five
// slots, the audit log on; internal/fakeidc as Identity Center and
// gnome-keyring on a private session bus), side by side with a bare
// net/http handler serving the same bytes, under a real HTTP load
// generator (wrk), in alternating rounds, and prints one table: requests
// per second, CPU per request, p50 and p99 latency, resident memory, and
// the time from exec to the first credentials served, with the median of
// the per-round ratios to the bare handler. Other credential servers
// (aws-vault's and the like) join the rounds when named in
// ROLECALL_BENCH_PEERS (real.go). Then idle memory after a few minutes
// (for rolecall and the bare handler with where their binary's resident
// pages are, by ELF section and by Go package: resident.go), and the
// owner's clients while another local user holds thousands of
// idle connections open and runs a connect loop.
//
// It is a benchmark tool (make bench), never part of rolecall. The
// "listener alone" column is the listener built from the same packages as
// `rolecall serve` (creds, server, with the audit log and the peer check
// on) in a child process of this program, with a fetcher that hands out
// fake credentials: the difference to `rolecall serve` is what the rest
// of the binary adds.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const token = "loadtest-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func main() {
	log.SetFlags(0)
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "child":
			child(os.Args[1], os.Args[2:])
			return
		case "attack":
			attack(os.Args[2:])
			return
		}
	}
	o := parseOptions()
	peers, err := parsePeers(os.Getenv(peersEnv))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := exec.LookPath("wrk"); err != nil && !o.onlyStartup && !o.hold {
		log.Fatal("loadtest: wrk is missing: apt-get install wrk")
	}
	r := &rig{}
	if err := r.run(func() error { return measureAll(r, o, peers) }); err != nil {
		log.Fatalf("loadtest: %v", err)
	}
	if o.attackIdle > 0 && !o.onlyStartup && !o.hold {
		attackLine(o)
	}
}

// options are the command line's.
type options struct {
	duration          time.Duration
	conns, rounds     int
	attackIdle        int
	bin, before, bare string
	idleWait          time.Duration
	manySlots, hold   bool
	onlyStartup       bool
}

func parseOptions() options {
	var o options
	flag.DurationVar(&o.duration, "duration", 4*time.Second, "wrk duration per run")
	flag.IntVar(&o.conns, "conns", 50, "concurrent keep-alive connections")
	flag.IntVar(&o.rounds, "rounds", 7, "rounds over all targets")
	flag.IntVar(&o.attackIdle, "attack-idle", 4000, "idle connections held by another user in the attack run (0: no attack run)")
	flag.StringVar(&o.bin, "bin", "bin/rolecall", "the rolecall binary (make build)")
	flag.StringVar(&o.before, "before", "", "another rolecall binary (an earlier build) measured in the same rounds and user state")
	flag.StringVar(&o.bare, "bare", "bin/loadtest-bare", "the bare handler (go build -o bin/loadtest-bare ./internal/loadtest/bare)")
	flag.DurationVar(&o.idleWait, "idle", 3*time.Minute, "how long the servers sit idle before their idle RSS is read (0: not measured)")
	flag.BoolVar(&o.manySlots, "many-slots", false, "also load the listener alone with 100 and 1,000 slots")
	flag.BoolVar(&o.hold, "hold", false, "start rolecall serve in the user state, print its pid, URL and token, and keep it until interrupted, its log on standard error (to profile it: perf record -p PID)")
	flag.BoolVar(&o.onlyStartup, "startup-only", false, "measure only exec to the first credentials, in -rounds alternating restarts (no wrk)")
	testing.Init() // the desktop session rig (internal/desktoptest) asks testing.Short
	flag.Parse()
	return o
}

// measureAll builds the user state on r and runs what o asks for.
func measureAll(r *rig, o options, peers []peer) error {
	u, err := newUserState(r, o.bin)
	if err != nil {
		return fmt.Errorf("the user state (two sessions, five slots): %w", err)
	}
	if o.hold {
		return holdServe(u, o.bin)
	}
	body, err := u.body()
	if err != nil {
		return err
	}
	targets := []target{bareTarget(o.bare, body, u.token), {name: "rolecall serve", start: u.start, bin: o.bin}}
	if o.before != "" {
		targets = append(targets, target{name: "rolecall before", start: func() (*proc, error) { return u.startBin(o.before) }, bin: o.before})
	}
	for _, pe := range peers {
		pe.body = body
		targets = append(targets, target{name: pe.name, start: pe.start, peer: true})
	}
	if o.onlyStartup {
		coldStarts(targets, o.rounds)
		return nil
	}
	targets = append(targets, childTarget("listener alone", "child", 1))
	if o.manySlots {
		targets = append(targets, childTarget("listener, 100 slots", "child", 100), childTarget("listener, 1000 slots", "child", 1000))
	}
	loadRounds(targets, o.rounds, o.duration, o.conns)
	if o.idleWait > 0 {
		// One rolecall at a time holds the user state: not -before.
		idle := targets[:2]
		for _, t := range targets[2:] {
			if t.peer {
				idle = append(idle, t)
			}
		}
		idleMemory(idle, o.idleWait)
	}
	if t, err := serveStartup(o.bin); err != nil {
		fmt.Printf("\n`rolecall serve` with no session: %v\n", err)
	} else {
		fmt.Printf("\n`rolecall serve` with no session and no keyring: exec to /healthz 200 %s (median of 5)\n", us(t.Seconds()*1e6))
	}
	return nil
}

// attackLine loads the listener alone while another user attacks it.
func attackLine(o options) {
	a, err := underAttack(o.attackIdle, o.duration, o.conns)
	if err != nil {
		fmt.Printf("\nattack run skipped: %v\n", err)
		return
	}
	fmt.Printf("\nanother user (nobody) holding %d idle connections and a connect loop (%d refused connections in the run):\n"+
		"  owner's wrk on the listener alone: %.0f req/s, p50 %s, p99 %s, %d timeouts, %d socket errors\n",
		o.attackIdle, a.attackerConns, a.rps, us(a.p50), us(a.p99), a.timeouts, a.errors)
}

// holdServe runs rolecall serve in the user state until SIGINT or SIGTERM;
// a few seconds after its start it prints where bin's resident pages are.
func holdServe(u *userState, bin string) error {
	u.stderr = os.Stderr
	p, err := u.start()
	if err != nil {
		return err
	}
	defer p.stop()
	fmt.Printf("pid %d\nurl %s\nauthorization %s\n", p.cmd.Process.Pid, p.url, p.auth)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	const settle = 5 * time.Second
	t := time.NewTimer(settle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	fmt.Printf("%s after the start, RSS %s:\n", settle, mib(float64(status(p.cmd.Process.Pid, "VmRSS:"))))
	for _, l := range binaryLines(p.cmd.Process.Pid, bin) {
		fmt.Println(l)
	}
	<-ctx.Done()
	return nil
}

// loadRounds runs every target in each round, forwards in even rounds and
// backwards in odd ones; a ratio to the first target (the bare handler) is
// taken within each round (neighbours in time, so that the drift of a
// shared machine's speed cancels) and the median of the rounds' ratios is
// shown.
func loadRounds(targets []target, rounds int, d time.Duration, conns int) {
	fmt.Printf("wrk -t2 -c%d -d%s --latency, GET of one slot's credentials; %d rounds, forwards and backwards; %s; load average %s\n\n",
		conns, d, rounds, machine(), loadavg())
	runs := make([][]run, len(targets))
	for round := range rounds {
		for _, i := range roundOrder(round, len(targets)) {
			runs[i] = append(runs[i], measure(targets[i], d, conns))
		}
	}
	printTable(targets, runs)
	fmt.Printf("load average after the rounds: %s\n", loadavg())
}

// roundOrder is the order of n targets in a round: forwards in even
// rounds, backwards in odd ones.
func roundOrder(round, n int) []int {
	order := make([]int, n)
	for k := range order {
		order[k] = k
		if round%2 == 1 {
			order[k] = n - 1 - k
		}
	}
	return order
}

// coldStarts times exec to the first credentials of each target, n
// alternating restarts, and prints the medians and the median per-round
// ratio to the first target.
func coldStarts(targets []target, n int) {
	fmt.Printf("exec to the first 200 with credentials, %d alternating restarts; load average %s\n", n, loadavg())
	times := make([][]float64, len(targets))
	for round := range n {
		for _, i := range roundOrder(round, len(targets)) {
			p, err := targets[i].start()
			if err != nil {
				log.Fatalf("loadtest: %s: %v", targets[i].name, err)
			}
			times[i] = append(times[i], p.coldStart.Seconds()*1e6)
			p.stop()
		}
	}
	for i, t := range targets {
		line := fmt.Sprintf("  %-22s %10s (%s–%s)", t.name, us(medianOf(times[i])), us(slices.Min(times[i])), us(slices.Max(times[i])))
		if i > 0 {
			q := make([]float64, n)
			for j := range q {
				q[j] = times[i][j] / times[0][j]
			}
			line += fmt.Sprintf("  %.2f× %s", medianOf(q), targets[0].name)
		}
		fmt.Println(line)
	}
	fmt.Printf("load average after: %s\n", loadavg())
}

// idleMemory starts every target at once, leaves them idle for wait, and
// prints their resident memory: the whole, and of it the file-backed pages
// (the binary's own code and data; clean, shared, but counted); for the
// targets whose binary is known, where the binary's resident pages are
// (binaryLines), read before the request.
func idleMemory(targets []target, wait time.Duration) {
	procs := make([]*proc, len(targets))
	for i, t := range targets {
		p, err := t.start()
		if err != nil {
			log.Fatalf("loadtest: %s: %v", t.name, err)
		}
		defer p.stop()
		procs[i] = p
	}
	time.Sleep(wait)
	fmt.Printf("\nidle RSS %s after the start (load average %s), then after one more request; where the binary's pages are, before the request:\n", wait, loadavg())
	for i, t := range targets {
		pid := procs[i].cmd.Process.Pid
		_, rss, file, _ := groupStat(pid)
		var pages []string
		if t.bin != "" {
			pages = binaryLines(pid, t.bin)
		}
		line := fmt.Sprintf("  %-22s %s (file-backed %s, anonymous %s)", t.name, mib(float64(rss)), mib(float64(file)), mib(float64(rss-file)))
		if err := waitOK(procs[i].url, procs[i].auth, 5*time.Second); err != nil {
			log.Fatalf("loadtest: %s after %s idle: %v", t.name, wait, err)
		}
		_, rss, file, _ = groupStat(pid)
		fmt.Printf("%s; %s (%s, %s)\n", line, mib(float64(rss)), mib(float64(file)), mib(float64(rss-file)))
		for _, l := range pages {
			fmt.Println(l)
		}
	}
}

// binaryLines is the breakdown of the resident pages of bin in process
// pid (resident.go) in a few lines, or one line saying why there is none.
func binaryLines(pid int, bin string) []string {
	b, err := readBinaryPages(pid, bin)
	if err != nil {
		return []string{"    binary's pages: " + err.Error()}
	}
	return b.report("    ", 15, 110)
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// printTable shows the median of each target's figures and, beside each
// but the first, the median of the per-round ratios to the first (for
// CPU, the median per-round difference in µs).
func printTable(targets []target, runs [][]run) {
	const w = 26
	fmt.Printf("%-20s", "")
	for _, t := range targets {
		fmt.Printf("%*s", w, t.name)
	}
	fmt.Println()
	med := make([]run, len(targets))
	rat := make([]run, len(targets))
	for i := range targets {
		med[i] = median(runs[i])
		rat[i] = ratios(runs[0], runs[i])
	}
	row := func(name string, val func(run) string, q func(run) string) {
		fmt.Printf("%-20s", name)
		for i := range targets {
			cell := val(med[i])
			if i > 0 {
				cell += " " + q(rat[i])
			}
			fmt.Printf("%*s", w, cell)
		}
		fmt.Println()
	}
	times := func(f float64) string { return fmt.Sprintf("%.2f×", f) }
	row("requests/s", func(r run) string { return fmt.Sprintf("%.0f", r.rps) }, func(r run) string { return times(r.rps) })
	row("CPU µs/request", func(r run) string { return fmt.Sprintf("%.1f", r.cpuPerReq) }, func(r run) string { return fmt.Sprintf("%+.1f", r.cpuPerReq) })
	row("p50", func(r run) string { return us(r.p50) }, func(r run) string { return times(r.p50) })
	row("p99", func(r run) string { return us(r.p99) }, func(r run) string { return times(r.p99) })
	row("RSS after start", func(r run) string { return mib(float64(r.rssIdle)) }, func(r run) string { return times(float64(r.rssIdle) / 1000) })
	row("RSS peak", func(r run) string { return mib(float64(r.rssPeak)) }, func(r run) string { return times(float64(r.rssPeak) / 1000) })
	row("exec to first 200", func(r run) string { return us(r.coldStart.Seconds() * 1e6) }, func(r run) string { return times(float64(r.coldStart) / 1000) })
	fmt.Println("(beside each: the median of the per-round ratios to " + targets[0].name + "; for CPU the difference)")
}

// ratios is the median over rounds of b's figure over a's in the same
// round (for CPU, the difference; RSS and start in thousandths).
func ratios(a, b []run) run {
	per := make([]run, len(a))
	for i := range a {
		per[i] = run{
			rps: b[i].rps / a[i].rps, cpuPerReq: b[i].cpuPerReq - a[i].cpuPerReq,
			p50: b[i].p50 / a[i].p50, p99: b[i].p99 / a[i].p99,
			rssIdle:   1000 * b[i].rssIdle / max(a[i].rssIdle, 1),
			rssPeak:   1000 * b[i].rssPeak / max(a[i].rssPeak, 1),
			coldStart: 1000 * b[i].coldStart / max(a[i].coldStart, 1),
		}
	}
	return median(per)
}

// median takes each figure's median over the rounds.
func median(rs []run) run {
	pick := func(f func(run) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return run{
		rps:       pick(func(r run) float64 { return r.rps }),
		cpuPerReq: pick(func(r run) float64 { return r.cpuPerReq }),
		p50:       pick(func(r run) float64 { return r.p50 }),
		p99:       pick(func(r run) float64 { return r.p99 }),
		rssIdle:   int(pick(func(r run) float64 { return float64(r.rssIdle) })),
		rssPeak:   int(pick(func(r run) float64 { return float64(r.rssPeak) })),
		coldStart: time.Duration(pick(func(r run) float64 { return float64(r.coldStart) })),
	}
}

func us(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func mib(kb float64) string { return fmt.Sprintf("%.1f MiB", kb/1024) }

// machine names the CPU and its cores, for the table's caption.
func machine() string {
	model := "unknown CPU"
	b, _ := os.ReadFile("/proc/cpuinfo")
	n := 0
	for _, line := range splitLines(string(b)) {
		if k, v, ok := cut(line, ":"); ok {
			switch k {
			case "model name":
				model = v
			case "processor":
				n++
			}
		}
	}
	return fmt.Sprintf("%s, %d cores", model, n)
}
