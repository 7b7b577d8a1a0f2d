package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
