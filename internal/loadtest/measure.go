//go:build linux

package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is one server measured in the rounds.
type target struct {
	name  string
	start func() (*proc, error)
	peer  bool   // from ROLECALL_BENCH_PEERS
	bin   string // the binary its process group's leader runs, if known: its resident pages are broken down
}

// run is one target's figures from one round.
type run struct {
	rps, cpuPerReq   float64 // requests per second; server CPU µs per request
	p50, p99         float64 // µs
	rssIdle, rssPeak int     // KiB
	coldStart        time.Duration
	requests         int
	timeouts, errors int
}

// measure starts t, times its cold start, lets it settle, and loads it.
func measure(t target, d time.Duration, conns int) run {
	p, err := t.start()
	if err != nil {
		log.Fatalf("loadtest: %s: %v", t.name, err)
	}
	defer p.stop()
	var r run
	r.coldStart = p.coldStart
	time.Sleep(300 * time.Millisecond)
	pg := p.cmd.Process.Pid
	_, r.rssIdle, _, _ = groupStat(pg)
	cpu0, _, _, _ := groupStat(pg)
	w := wrk(p.url, p.auth, d, conns)
	cpu1, _, _, peak := groupStat(pg)
	r.rps, r.p50, r.p99, r.requests, r.timeouts, r.errors = w.rps, w.p50, w.p99, w.requests, w.timeouts, w.errors
	if w.requests > 0 {
		r.cpuPerReq = float64(cpu1-cpu0) / clockTicks * 1e6 / float64(w.requests)
	}
	r.rssPeak = peak
	return r
}

// proc is a server started in a process group of its own; url answers
// its credentials with auth as the Authorization header.
type proc struct {
	cmd       *exec.Cmd
	url, auth string
	coldStart time.Duration
}

// childTarget is this program in child or bare mode (child.go).
func childTarget(name, mode string, slots int) target {
	return target{name: name, start: func() (*proc, error) {
		port := freePort()
		cmd := exec.Command(os.Args[0], mode, strconv.Itoa(slots), port)
		cmd.Stderr = os.Stderr
		return startProc(cmd, "http://127.0.0.1:"+port+"/slot/p"+strconv.Itoa(slots/2), token)
	}}
}

// stop ends the process group and waits for its leader.
func (p *proc) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	p.cmd.Wait()
}

type wrkResult struct {
	rps, p50, p99    float64
	requests         int
	timeouts, errors int
}

var (
	rpsRe  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reqRe  = regexp.MustCompile(`(\d+) requests in`)
	pctRe  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	sockRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func wrk(url, auth string, d time.Duration, conns int) wrkResult {
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency"}
	if auth != "" {
		args = append(args, "-H", "Authorization: "+auth)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		log.Fatalf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") {
		log.Fatalf("wrk saw errors:\n%s", out)
	}
	var r wrkResult
	m := rpsRe.FindStringSubmatch(string(out))
	if m == nil {
		log.Fatalf("wrk output not understood:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reqRe.FindStringSubmatch(string(out)); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	for _, m := range pctRe.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "ms":
			v *= 1000
		case "s":
			v *= 1e6
		}
		if m[1] == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if m := sockRe.FindStringSubmatch(string(out)); m != nil {
		for i, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			if i == 3 {
				r.timeouts = n
			} else {
				r.errors += n
			}
		}
	}
	return r
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux build that matters).
const clockTicks = 100

// status is one KiB figure of /proc/<pid>/status (VmRSS:, VmHWM:).
func status(pid int, key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range splitLines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func cut(line, sep string) (string, string, bool) {
	k, v, ok := strings.Cut(line, sep)
	return strings.TrimSpace(k), strings.TrimSpace(v), ok
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// serveStartup starts the real binary (`rolecall serve`, no session, no
// keyring: a private empty environment) five times and returns the median
// time from exec to its first 200 on /healthz.
func serveStartup(bin string) (time.Duration, error) {
	var times []time.Duration
	for range 5 {
		dir, _ := os.MkdirTemp("", "rolecall-bench-")
		port := freePort()
		cmd := exec.Command(bin, "serve", "--port", port)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+dir+"/state", "XDG_CONFIG_HOME="+dir+"/config",
			"XDG_RUNTIME_DIR="+dir+"/run", "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+dir+"/aws-config",
			"DBUS_SESSION_BUS_ADDRESS=unix:path="+dir+"/nobus")
		os.MkdirAll(dir+"/run", 0o700)
		p, err := startProc(cmd, "http://127.0.0.1:"+port+"/healthz", "")
		if err != nil {
			os.RemoveAll(dir)
			return 0, err
		}
		times = append(times, p.coldStart)
		p.stop()
		os.RemoveAll(dir)
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}
