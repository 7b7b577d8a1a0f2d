//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server"
)

// child serves credentials as the listener of rolecall serve does (every
// check and the audit log on), on 127.0.0.1:<port>, from n slots.
func child(mode string, args []string) {
	n, _ := strconv.Atoi(args[0])
	if path := os.Getenv("LOADTEST_CPUPROFILE"); path != "" {
		// Profile of the server side: LOADTEST_CPUPROFILE=/tmp/x.prof
		f, err := os.Create(path + "." + mode)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+args[1])
	if err != nil {
		log.Fatal(err)
	}
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
	<-ctx.Done()
	s.Close(context.Background())
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

// attackResult is the owner's load while another user attacks.
type attackResult struct {
	wrkResult
	attackerConns int
}

// underAttack runs rolecall (1 slot) while this program, as user nobody
// (setpriv), holds idle connections open and runs a connect loop, and
// loads it with wrk as the owner.
func underAttack(idle int, d time.Duration, conns int) (attackResult, error) {
	if os.Getuid() != 0 {
		return attackResult{}, errors.New("it needs root to run the attacker as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return attackResult{}, errors.New("setpriv is missing: apt-get install util-linux")
	}
	self, _ := os.Executable()
	p, err := childTarget("rolecall", "child", 1).start()
	if err != nil {
		return attackResult{}, err
	}
	defer p.stop()
	addr := strings.TrimPrefix(p.url, "http://")
	addr = addr[:strings.IndexByte(addr, '/')]
	a := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", self, "attack", addr, strconv.Itoa(idle), (d + 3*time.Second).String())
	a.Stderr = os.Stderr
	out, _ := a.StdoutPipe()
	if err := a.Start(); err != nil {
		return attackResult{}, err
	}
	ready := bufio.NewReader(out)
	if _, err := ready.ReadString('\n'); err != nil { // "ready": idle connections are open
		a.Wait()
		return attackResult{}, fmt.Errorf("attacker: %v", err)
	}
	w := wrk(p.url, p.auth, d, conns)
	line, _ := ready.ReadString('\n')
	a.Wait()
	n, _ := strconv.Atoi(strings.TrimSpace(line))
	return attackResult{wrkResult: w, attackerConns: n}, nil
}

// attack holds idle connections to addr open (dialling again those the
// server closes) and runs a connect loop of requests at 200 per second,
// for the given time; it prints "ready" once the idle connections are
// open, and at the end the number of loop connections.
func attack(args []string) {
	addr := args[0]
	n, _ := strconv.Atoi(args[1])
	d, _ := time.ParseDuration(args[2])
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	opened := make(chan struct{}, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if first {
					opened <- struct{}{}
					first = false
				}
				context.AfterFunc(ctx, func() { c.Close() })
				io.Copy(io.Discard, c) // until the server closes it
				c.Close()
			}
		}()
	}
	for range n {
		<-opened
	}
	fmt.Println("ready")
	var loops atomic.Int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	req := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + token + "\r\n\r\n"
	for ctx.Err() == nil {
		<-tick.C
		go func() {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c, req)
			io.Copy(io.Discard, c)
			loops.Add(1)
		}()
	}
	wg.Wait()
	fmt.Println(loops.Load())
}
