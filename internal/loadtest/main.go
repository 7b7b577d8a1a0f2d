// Command loadtest measures rolecall's credential listener with a real HTTP
// load generator (wrk): throughput and latency next to a bare net/http
// handler serving the same bytes, with 1, 100 and 1000 loaded slots; the
// resident memory of the listener process idle and after the load; and the
// time from `rolecall serve` starting to its first 200 on /healthz.
//
// It is a benchmark tool (make bench), never part of rolecall. The listener
// under load is built from the same packages as `rolecall serve` (creds,
// server, with the audit log and the peer check on) in a child process,
// with a fetcher that hands out fake credentials, since no real profile
// source is reachable here.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server"
)

const token = "loadtest-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func main() {
	log.SetFlags(0)
	if len(os.Args) > 1 && (os.Args[1] == "child" || os.Args[1] == "bare") {
		child(os.Args[1], os.Args[2:])
		return
	}
	duration := flag.Duration("duration", 10*time.Second, "wrk duration per run")
	conns := flag.Int("conns", 50, "concurrent keep-alive connections")
	rounds := flag.Int("rounds", 3, "rounds over all targets")
	bin := flag.String("bin", "bin/rolecall", "rolecall binary for the start-up and idle-memory measurements")
	flag.Parse()
	if _, err := exec.LookPath("wrk"); err != nil {
		log.Fatal("loadtest: wrk is missing: apt-get install wrk")
	}
	fmt.Printf("load: wrk -t2 -c%d -d%s --latency, GET of one slot's credentials, on %d cores\n\n", *conns, *duration, nproc())
	fmt.Printf("%-28s %12s %9s %9s %10s %10s\n", "target", "req/s", "p50", "p99", "RSS idle", "RSS after")

	// Rounds interleave the targets so that drift in the machine's speed
	// hits them all alike; the table shows each target's median round.
	targets := []struct{ name, mode, slots string }{
		{"bare net/http, same bytes", "bare", "1"},
		{"rolecall, 1 slot", "child", "1"},
		{"rolecall, 100 slots", "child", "100"},
		{"rolecall, 1000 slots", "child", "1000"},
	}
	type row struct {
		r          result
		idle, load int
	}
	rows := make([][]row, len(targets))
	for range *rounds {
		for i, t := range targets {
			p := start(t.mode, t.slots)
			r := wrk(p.url, *duration, *conns)
			rows[i] = append(rows[i], row{r, p.rssIdle, rss(p.cmd.Process.Pid)})
			p.stop()
		}
	}
	med := make([]row, len(targets))
	for i, t := range targets {
		slices.SortFunc(rows[i], func(a, b row) int { return int(a.r.rps - b.r.rps) })
		med[i] = rows[i][len(rows[i])/2]
		med[i].r.print(t.name, med[i].idle, med[i].load)
	}
	rates := []float64{med[1].r.rps, med[2].r.rps, med[3].r.rps}
	fmt.Printf("\nmedian of %d rounds; rolecall (1 slot) / bare: %.2f×; slowest / fastest of 1, 100, 1000 slots: %.2f\n",
		*rounds, rates[0]/med[0].r.rps, slices.Min(rates)/slices.Max(rates))

	startup, idle, err := serveStartup(*bin)
	if err != nil {
		log.Fatalf("loadtest: %v", err)
	}
	fmt.Printf("\n`rolecall serve`: start to first /healthz 200: median %v of 5 (min %v, max %v); RSS idle %s\n",
		startup[2].Round(100*time.Microsecond), startup[0].Round(100*time.Microsecond), startup[4].Round(100*time.Microsecond), kb(idle))
}

type proc struct {
	cmd     *exec.Cmd
	url     string
	rssIdle int
}

// start runs this program in child or bare mode and waits for its URL.
func start(mode, slots string) *proc {
	cmd := exec.Command(os.Args[0], mode, slots)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		log.Fatalf("loadtest %s: no URL: %v", mode, err)
	}
	p := &proc{cmd: cmd, url: strings.TrimSpace(line)}
	time.Sleep(500 * time.Millisecond)
	p.rssIdle = rss(cmd.Process.Pid)
	return p
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

type result struct{ rps, p50, p99 float64 }

var (
	rpsRe = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	pctRe = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
)

func wrk(url string, d time.Duration, conns int) result {
	out, err := exec.Command("wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(d.Seconds()))+"s",
		"--latency", "-H", "Authorization: "+token, url).CombinedOutput()
	if err != nil {
		log.Fatalf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") {
		log.Fatalf("wrk saw errors:\n%s", out)
	}
	var r result
	m := rpsRe.FindStringSubmatch(string(out))
	if m == nil {
		log.Fatalf("wrk output not understood:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
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
	return r
}

func (r result) print(name string, idle, after int) {
	fmt.Printf("%-28s %12.0f %7.0fµs %7.0fµs %10s %10s\n", name, r.rps, r.p50, r.p99, kb(idle), kb(after))
}

// serveStartup starts the real binary five times and times its first 200
// on /healthz; it also reports its resident memory when idle.
func serveStartup(bin string) ([]time.Duration, int, error) {
	var times []time.Duration
	idle := 0
	for range 5 {
		dir, _ := os.MkdirTemp("", "rolecall-bench-")
		port := freePort()
		cmd := exec.Command(bin, "serve", "--port", port)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
			"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"), "ROLECALL_SOCKET=", "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "nobus"))
		os.MkdirAll(filepath.Join(dir, "run"), 0o700)
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, 0, err
		}
		url := "http://127.0.0.1:" + port + "/healthz"
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(t0) > 10*time.Second {
				cmd.Process.Kill()
				return nil, 0, errors.New("rolecall serve did not answer /healthz within 10 s")
			}
			time.Sleep(200 * time.Microsecond)
		}
		times = append(times, time.Since(t0))
		time.Sleep(time.Second)
		idle = rss(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	slices.Sort(times)
	return times, idle, nil
}

// child serves credentials like rolecall serve (mode child) or the same
// bytes from a bare handler (mode bare), and prints its URL.
func child(mode string, args []string) {
	n, _ := strconv.Atoi(args[0])
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/slot/p" + strconv.Itoa(n/2)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	m := creds.NewManager(creds.Config{Fetcher: fakeFetcher})
	defer m.Close()
	for i := range n {
		name := "p" + strconv.Itoa(i)
		if _, err := m.Load(ctx, name, creds.Profile{Name: name}); err != nil {
			log.Fatal(err)
		}
	}
	if mode == "bare" {
		body := bareBody(m, "p"+strconv.Itoa(n/2))
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Header().Set("Cache-Control", "no-store")
			w.Write(body)
		}))
		fmt.Println(url)
		<-ctx.Done()
		return
	}
	dir, _ := os.MkdirTemp("", "rolecall-loadtest-")
	defer os.RemoveAll(dir)
	audit, err := server.OpenAudit(filepath.Join(dir, "audit.log"), server.AuditOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer audit.Close()
	s, err := server.New(server.Options{Source: m, Token: token, Audit: audit, SameUserOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	s.Serve(l)
	fmt.Println(url)
	<-ctx.Done()
	s.Close(context.Background())
}

// bareBody is what rolecall answers for slot name: got through a
// throw-away rolecall handler, so both serve identical bytes.
func bareBody(m *creds.Manager, name string) []byte {
	s, err := server.New(server.Options{Source: m, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(l)
	defer s.Close(context.Background())
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/slot/"+name, nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

var fakeFetcher = creds.FetcherFunc(func(_ context.Context, p creds.Profile) (creds.Credentials, error) {
	now := time.Now()
	return creds.Credentials{
		AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken:    strings.Repeat("IQoJb3JpZ2luX2VjEXAMPLE", 30), // real session tokens are ~700 bytes
		Issued:          now,
		Expiration:      now.Add(12 * time.Hour),
		RoleARN:         "arn:aws:iam::111122223333:role/" + p.Name,
		AccountID:       "111122223333",
	}, nil
})

func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func kb(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1024)
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

func nproc() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
