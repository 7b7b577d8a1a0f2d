package tray

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/desktoptest"
)

// The storm test runs the real fyne.io/systray in a child process (it keeps
// global state and wants the main goroutine): this test binary again, with
// helperEnv set.
const helperEnv = "ROLECALL_TRAY_STORM_HELPER"

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool

func TestMain(m *testing.M) {
	if n := os.Getenv(helperEnv); n != "" {
		gens, _ := strconv.Atoi(n)
		stormHelper(gens)
		os.Exit(0)
	}
	if n := os.Getenv(benchEnv); n != "" {
		switches, _ := strconv.Atoi(n)
		benchHelper(switches)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// stormProfiles are the roles of the storm menu: 1,500 profiles.
func stormProfiles() []Role {
	var rs []Role
	for i := range 1500 {
		rs = append(rs, Role{Name: fmt.Sprintf("p-%04d", i), Session: "corp"})
	}
	return rs
}

// stormHelper shows a 1,500-role menu and changes its state gens times as
// fast as the renderer takes it: even generations change the menu's
// structure (a new session to log in to), odd ones only a checkmark and
// labels. It prints every action it is asked to do as "ACTION kind name";
// Quit ends it.
func stormHelper(gens int) {
	roles := stormProfiles()
	var gen atomic.Int64
	seen := make(chan int64, 1)
	changes := make(chan struct{}, 1)
	state := func() State {
		g := gen.Load()
		select {
		case seen <- g:
		default:
		}
		loaded := roles[int(g)%7].Name
		d := &creds.Slot{Name: creds.DefaultSlot, Profile: creds.Profile{Name: loaded}, State: creds.StateOK,
			Creds: creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", Expiration: time.Now().Add(time.Hour)}}
		return State{
			Slots:    creds.State{Default: d},
			Sessions: []Session{{Key: fmt.Sprintf("gen-%d", g/2)}},
			Roles:    roles,
		}
	}
	var out sync.Mutex
	say := func(what ...any) error {
		out.Lock()
		defer out.Unlock()
		fmt.Println(append([]any{"ACTION"}, what...)...)
		return nil
	}
	named := func(verb string) func(string) error {
		return func(name string) error { return say(verb, name) }
	}
	acts := Actions{
		Load: named("load"), LoadSlot: named("loadslot"), Unload: named("unload"), Login: named("login"),
		Pin:       func(slot string, on bool) error { return say("pin", slot, on) },
		Copy:      func(ide bool) error { return say("copy", ide) },
		Refresh:   func() error { return say("refresh") },
		Autostart: func(on bool) error { return say("autostart", on) },
		Quit:      func() { say("quit") },
		Failed:    func(a Action, err error) { say("failed", a.Kind, err) },
	}
	Run(Options{State: state, Changes: changes, Actions: acts, OnReady: func() {
		go func() {
			for g := int64(1); g <= int64(gens); g++ {
				gen.Store(g)
				changes <- struct{}{}
				for <-seen < g {
				}
			}
		}()
	}})
}

// TestRebuildStormHasNoPhantomActions rebuilds a 1,500-item menu over the
// real systray many times while clicking entries of layouts read during
// the storm: every action that runs must be one that was clicked, on the
// entry it was clicked on.
func TestRebuildStormHasNoPhantomActions(t *testing.T) {
	gens := 30
	switch {
	case testing.Short():
		gens = 8
	case raceEnabled: // five times slower
		gens = 12
	}
	s := desktoptest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), s.Env...), helperEnv+"="+strconv.Itoa(gens))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var actions []string
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ACTION "); ok {
				actions = append(actions, a)
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	menu := conn.Object("org.kde.StatusNotifierItem-"+strconv.Itoa(cmd.Process.Pid)+"-1", "/StatusNotifierItem/menu")
	layout := func() ([]any, error) {
		var rev uint32
		var l []any
		err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l)
		return l, err
	}
	click := func(id int32) error {
		return menu.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0)).Err
	}

	clicked := map[string]int{} // "load name" -> clicks sent
	last := fmt.Sprintf("Log in to gen-%d", gens/2)
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the storm did not end in time; actions so far: %q", actions)
		}
		select {
		case <-exited:
			t.Fatalf("the tray exited during the storm; actions: %.300q", actions)
		default:
		}
		l, err := layout()
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		_, done := findLabel(l, last)
		_, full := findLabel(l, "Quit") // added last: the build is complete
		if done && full {
			break
		}
		// Click a role entry of this (maybe already stale) layout.
		name := fmt.Sprintf("p-%04d", rng.IntN(1500))
		if id, ok := findLabel(l, name); ok {
			clicked["load "+name]++
			click(id) // an error: the tray is gone, seen above next time
		}
	}
	// The storm is over: a click now reaches its entry.
	l, err := layout()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := findLabel(l, "p-0100")
	if !ok {
		t.Fatal("no entry p-0100 after the storm")
	}
	want := "load p-0100"
	clicked[want]++
	if err := click(id); err != nil {
		t.Fatal(err)
	}
	quit, ok := findLabel(l, "Quit")
	if !ok {
		t.Fatal("no Quit entry")
	}
	// Clicks are not queued: click Quit until the tray is gone.
	for gone := false; !gone; {
		click(quit)
		select {
		case <-exited:
			gone = true
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the tray did not quit")
		}
	}
	got := map[string]int{}
	for _, a := range actions {
		got[a]++
	}
	for a, n := range got {
		if a == "quit" {
			continue
		}
		if n > clicked[a] {
			t.Errorf("action %q ran %d times, clicked %d times", a, n, clicked[a])
		}
	}
	if got[want] == 0 {
		t.Errorf("the click after the storm did not run; actions: %q", actions)
	}
	t.Logf("%d generations, %d clicks during the storm, %d actions", gens, len(clicked), len(actions))
}

// findLabel returns the id of the first visible entry labelled label.
func findLabel(layout []any, label string) (int32, bool) {
	props := layout[1].(map[string]dbus.Variant)
	if l, ok := props["label"]; ok && l.Value().(string) == label {
		if v, ok := props["visible"]; !ok || v.Value().(bool) {
			return layout[0].(int32), true
		}
	}
	for _, c := range layout[2].([]dbus.Variant) {
		if id, ok := findLabel(c.Value().([]any), label); ok {
			return id, true
		}
	}
	return 0, false
}
