package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestListenDial: clients connect concurrently and each gets its own
// stream; a second Listen on the same path is ErrAlreadyRunning; after
// Close nothing listens (os.ErrNotExist), and the path can be listened on
// again.
func TestListenDial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "echo %s", line)
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			c, err := Dial(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "hello %d\n", i)
			got, err := bufio.NewReader(c).ReadString('\n')
			if want := fmt.Sprintf("echo hello %d\n", i); got != want {
				err = fmt.Errorf("got %q, %v; want %q", got, err, want)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := Listen(path); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Listen: %v, want ErrAlreadyRunning", err)
	}
	l.Close()
	wg.Wait()
	if c, err := Dial(ctx, path); !errors.Is(err, os.ErrNotExist) {
		if c != nil {
			c.Close()
		}
		t.Errorf("Dial after Close: %v, want an error that is os.ErrNotExist", err)
	}
	l, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen again after Close: %v", err)
	}
	l.Close()
}

// TestAcceptReturnsOnClose: Close stops a pending Accept.
func TestAcceptReturnsOnClose(t *testing.T) {
	l, err := Listen(filepath.Join(t.TempDir(), "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Accept block; either order passes
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still blocked 10 s after Close")
	}
}

// TestHTTPKeepAlive: requests that follow one another on one connection
// each get a live context. (A connection whose read errors net/http does
// not take for a timeout cancels its context after the first request: the
// second load of `credential-process` failed so on Windows.)
func TestHTTPKeepAlive(t *testing.T) {
	l, err := Listen(filepath.Join(t.TempDir(), "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond) // the server's background read is pending meanwhile
		fmt.Fprint(w, r.Context().Err())
	})}
	go srv.Serve(l)
	defer srv.Close()
	dials := 0
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dials++
			return Dial(ctx, l.Addr().String())
		},
	}}
	for i := range 3 {
		resp, err := client.Post("http://rolecall/", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "<nil>" {
			t.Errorf("request %d: context %s", i, b)
		}
	}
	if dials != 1 {
		t.Errorf("%d connections for 3 requests, want 1 (keep-alive)", dials)
	}
}
