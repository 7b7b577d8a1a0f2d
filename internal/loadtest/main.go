// Command loadtest measures rolecall's credential listener with a real HTTP
// load generator (wrk), side by side with a bare net/http handler serving
// the same bytes, and prints one table: requests per second, CPU per
// request, p50 and p99 latency, resident memory idle and under load, and
// the time from exec to the first credentials served, with the ratio of
// rolecall to bare for each; then 1, 100 and 1,000 loaded slots, and the
// owner's clients while another local user holds thousands of idle
// connections open and runs a connect loop.
//
// It is a benchmark tool (make bench), never part of rolecall. The listener
// under load is built from the same packages as `rolecall serve` (creds,
// server, with the audit log and the peer check on) in a child process,
// with a fetcher that hands out fake credentials, since no real profile
// source is reachable here.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

const token = "loadtest-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func main() {
	log.SetFlags(0)
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "child", "bare":
			child(os.Args[1], os.Args[2:])
			return
		case "attack":
			attack(os.Args[2:])
			return
		}
	}
	duration := flag.Duration("duration", 4*time.Second, "wrk duration per run")
	conns := flag.Int("conns", 50, "concurrent keep-alive connections")
	rounds := flag.Int("rounds", 7, "rounds over all targets")
	idle := flag.Int("attack-idle", 4000, "idle connections held by another user in the attack run (0: no attack run)")
	bin := flag.String("bin", "bin/rolecall", "rolecall binary for the start-up and idle-memory line")
	sessionRuns := flag.Int("session-runs", 9, "restarts of `rolecall serve` with a stored session, timed to the first credentials (0: none)")
	onlyStartup := flag.Bool("startup-only", false, "measure only the start-up lines (no wrk)")
	testing.Init() // the desktop session rig (internal/desktoptest) asks testing.Short
	flag.Parse()
	if *onlyStartup {
		startupLines(*bin, *sessionRuns)
		return
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("loadtest: wrk is missing: apt-get install wrk")
	}
	fmt.Printf("wrk -t2 -c%d -d%s --latency, GET of one slot's credentials; %d rounds, forwards and backwards; %s\n\n",
		*conns, *duration, *rounds, machine())

	wrkTable(*duration, *conns, *rounds)

	startupLines(*bin, *sessionRuns)
	if *idle > 0 {
		a, err := underAttack(*idle, *duration, *conns)
		if err != nil {
			fmt.Printf("\nattack run skipped: %v\n", err)
			return
		}
		fmt.Printf("\nanother user (nobody) holding %d idle connections and a connect loop (%d refused connections in the run):\n"+
			"  owner's wrk: %.0f req/s, p50 %s, p99 %s, %d timeouts, %d socket errors\n",
			*idle, a.attackerConns, a.rps, us(a.p50), us(a.p99), a.timeouts, a.errors)
	}
}

// wrkTable measures rolecall against the bare handler under wrk and
// prints the table and the slot-count line.
func wrkTable(duration time.Duration, conns, rounds int) {
	// Each round runs every target, forwards in even rounds and backwards
	// in odd ones; a ratio is taken within each round (neighbours in time,
	// so that the drift of a shared machine's speed cancels) and the
	// median of the rounds' ratios is shown.
	targets := []target{
		{name: "bare", mode: "bare", slots: 1},
		{name: "rolecall", mode: "child", slots: 1},
		{name: "rolecall 100 slots", mode: "child", slots: 100},
		{name: "rolecall 1000 slots", mode: "child", slots: 1000},
	}
	runs := make([][]run, len(targets))
	for round := range rounds {
		for k := range targets {
			i := k
			if round%2 == 1 {
				i = len(targets) - 1 - k
			}
			runs[i] = append(runs[i], measure(targets[i], duration, conns))
		}
	}
	med := make([]run, len(targets))
	for i := range targets {
		med[i] = median(runs[i])
	}
	printTable(med[0], med[1], ratios(runs[0], runs[1]))
	r100, r1000 := ratios(runs[1], runs[2]), ratios(runs[1], runs[3])
	fmt.Printf("\nslots (req/s, median of rounds): 1 → %.0f, 100 → %.0f, 1000 → %.0f; per-round ratio to 1 slot: 100 → %.3f, 1000 → %.3f\n",
		med[1].rps, med[2].rps, med[3].rps, r100.rps, r1000.rps)
}

// startupLines prints the start-up and idle-memory lines of the real
// binary: with no session (exec to /healthz), and with a stored session
// (exec to the default slot's credentials).
func startupLines(bin string, sessionRuns int) {
	if t, rss, err := serveStartup(bin); err != nil {
		fmt.Printf("\n`rolecall serve`: %v\n", err)
	} else {
		fmt.Printf("\n`rolecall serve` (the release binary, no session): exec to /healthz 200 %s, idle RSS %s\n", us(t.Seconds()*1e6), mib(float64(rss)))
	}
	if sessionRuns <= 0 {
		return
	}
	if med, lo, hi, err := sessionStartup(bin, sessionRuns); err != nil {
		fmt.Printf("`rolecall serve` with a stored session: not measured: %v\n", err)
	} else {
		fmt.Printf("`rolecall serve` with a stored session (gnome-keyring, fake Identity Center; default slot from state.json):\n"+
			"  exec to the first 200 on GET / %s (median of %d; %s–%s)\n", us(med.Seconds()*1e6), sessionRuns, us(lo.Seconds()*1e6), us(hi.Seconds()*1e6))
	}
}

// printTable shows the medians of each target and the median of the
// per-round ratios (for CPU, the median per-round difference).
func printTable(bare, rc, ratio run) {
	fmt.Printf("%-22s %14s %14s %14s\n", "", "bare net/http", "rolecall", "rolecall/bare")
	row := func(name string, b, r, q float64, format func(float64) string) {
		fmt.Printf("%-22s %14s %14s %13.2f×\n", name, format(b), format(r), q)
	}
	num := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	row("requests/s", bare.rps, rc.rps, ratio.rps, num)
	fmt.Printf("%-22s %14.1f %14.1f %+11.1f µs\n", "CPU µs/request", bare.cpuPerReq, rc.cpuPerReq, ratio.cpuPerReq)
	row("p50", bare.p50, rc.p50, ratio.p50, us)
	row("p99", bare.p99, rc.p99, ratio.p99, us)
	row("RSS idle", float64(bare.rssIdle), float64(rc.rssIdle), float64(ratio.rssIdle)/1000, mib)
	row("RSS loaded (peak)", float64(bare.rssPeak), float64(rc.rssPeak), float64(ratio.rssPeak)/1000, mib)
	row("exec to first 200", bare.coldStart.Seconds()*1e6, rc.coldStart.Seconds()*1e6, float64(ratio.coldStart)/1000, us)
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
