package tray

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/desktoptest"
)

const benchEnv = "ROLECALL_TRAY_BENCH_HELPER"

// benchHelper shows the menu of 300 accounts with four roles each (1,200
// roles) over the real systray, reports its RSS once idle, then switches
// the default role n times, each time waiting for the menu to be updated,
// and reports the CPU time (user+system, every goroutine of the process:
// the renderer and systray's D-Bus work) spent on the switches.
func benchHelper(n int) {
	roles := org(300)
	rendered := make(chan struct{}, 1)
	changes := make(chan struct{}, 1)
	var cur int
	var recent []string
	state := func() State {
		d := &creds.Slot{Name: creds.DefaultSlot, Profile: creds.Profile{Name: roles[cur].Name, AccountID: roles[cur].AccountID,
			RoleName: roles[cur].Role, Session: "corp"}, State: creds.StateOK,
			Creds: creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", Expiration: time.Now().Add(time.Hour)}}
		return State{Slots: creds.State{Default: d}, Sessions: []Session{{Key: "corp", SignedIn: true, Renewable: true}},
			Roles: roles, Recent: recent, Favorites: []string{roles[0].Name, roles[1].Name}}
	}
	used := func(i int) {
		cur = i
		recent = append([]string{roles[i].Name}, recent...)
		recent = recent[:min(len(recent), RecentMax)]
	}
	used(7)
	wait := func() {
		select {
		case <-rendered:
		case <-time.After(time.Minute):
			fmt.Println("TIMEOUT")
			os.Exit(1)
		}
	}
	opts := Options{State: state, Changes: changes, rendered: func() {
		select {
		case rendered <- struct{}{}:
		default:
		}
	}}
	opts.OnReady = func() {
		go func() {
			wait()
			time.Sleep(500 * time.Millisecond) // let systray's goroutines settle
			fmt.Println("RSS", rssKB())
			start := cpu()
			for i := range n {
				used((i * 37) % len(roles))
				changes <- struct{}{}
				wait()
			}
			fmt.Println("CPU", (cpu() - start).Seconds())
			Quit()
		}()
	}
	Run(opts)
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssKB() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		}
	}
	return "0"
}

// BenchmarkSwitch measures the CPU time of one switch of the default role
// with 1,200 roles in the menu, over the real systray on a private bus,
// and the tray's RSS once idle. The switches run in a child process (the
// systray wants its own): b.N of them.
func BenchmarkSwitch(b *testing.B) {
	s := desktoptest.Start(b)
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(append(os.Environ(), s.Env...), benchEnv+"="+strconv.Itoa(b.N))
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "RSS":
			b.ReportMetric(v/1024, "idle-RSS-MB")
		case "CPU":
			b.ReportMetric(v/float64(b.N), "cpu-s/switch")
			return
		}
	}
	b.Fatal("the tray helper did not report")
}
