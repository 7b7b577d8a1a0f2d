package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/handoff"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/tray"
)

// serveFlags are the flags of `rolecall serve` (and of the tray).
type serveFlags struct {
	bind, cert, key string
	port            int
	imds, debug     bool
}

// apply puts the flags given over the settings.
func (f serveFlags) apply(st *settings.Settings) {
	if f.bind != "" {
		st.Bind = f.bind
	}
	if f.port != 0 {
		st.Port = f.port
	}
	if f.imds {
		st.IMDS = true
	}
}

// engineConfig loads the settings, applies the flags and says where the
// engine keeps its files and its control channel.
func (c *cli) engineConfig(f serveFlags) (engine.Config, error) {
	cfgPath, err := settings.Path()
	if err != nil {
		return engine.Config{}, err
	}
	st, err := settings.Load(cfgPath)
	if err != nil {
		return engine.Config{}, err
	}
	f.apply(&st)
	stateDir, err := settings.StateDir()
	if err != nil {
		return engine.Config{}, err
	}
	sock, err := control.SocketPath()
	if err != nil {
		return engine.Config{}, err
	}
	return engine.Config{
		Settings: st, PortFlag: f.port != 0, SettingsPath: cfgPath, StateDir: stateDir, Socket: sock,
		TLSCert: f.cert, TLSKey: f.key, Version: version,
		Log: newLogger(c.stderr, f.debug), OpenURL: handoff.Launch,
	}, nil
}

// newLogger logs text lines to w.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func (c *cli) serveFlagSet(name, synopsis, example string) (*flag.FlagSet, *serveFlags) {
	fs := c.flags(name, synopsis, example)
	f := &serveFlags{}
	fs.StringVar(&f.bind, "bind", "", "address to listen on (default from settings, else 127.0.0.1); a non-loopback address needs TLS")
	fs.IntVar(&f.port, "port", 0, "port to listen on (default from settings, else 4144; 0 here means that default)")
	fs.StringVar(&f.cert, "tls-cert", "", "PEM certificate file: serve HTTPS")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key file for --tls-cert")
	fs.BoolVar(&f.imds, "imds", false, "also serve the EC2 instance metadata (IMDSv2) routes")
	fs.BoolVar(&f.debug, "debug", false, "log debug messages")
	return fs, f
}

func (c *cli) serve(args []string) int {
	fs, f := c.serveFlagSet("serve", "serve [--bind ADDR] [--port N] [--tls-cert FILE --tls-key FILE] [--imds] [--debug]",
		"rolecall serve --port 4144")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	if f.port < 0 || f.port > 65535 {
		return c.usageError(fs, fmt.Sprintf("--port %d is not a port number (1-65535)", f.port))
	}
	cfg, err := c.engineConfig(*f)
	if err != nil {
		return c.fail(err)
	}
	tuneServingGC()
	e, err := engine.Start(c.ctx, cfg)
	if err != nil {
		return c.fail(err)
	}
	select {
	case <-c.ctx.Done():
	case <-e.Done():
	}
	cfg.Log.Info("shutting down")
	e.Close()
	return exitOK
}

// servingGCPercent is the GC target of the long-running process. Its live
// heap is ~1 MB, most of it the AWS SDK's tables, which with Go's default
// (100, and a 4 MB floor) every 3 MB allocated under load marks again: 200
// makes the cycles per request less than half as many, for at most 4 MiB
// more heap under load (idle memory is unchanged). GOGC, when set, wins.
const servingGCPercent = 200

func tuneServingGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(servingGCPercent)
	}
}

// startTray runs rolecall with its tray icon, or headless with a one-line
// notice when there is no tray host.
func (c *cli) startTray() int {
	if err := tray.Available(); err != nil {
		fmt.Fprintf(c.stderr, "rolecall: %v; running headless as `rolecall serve`\n", err)
		return c.serve(nil)
	}
	cfg, err := c.engineConfig(serveFlags{})
	if err != nil {
		return c.fail(err)
	}
	a := newApp(&cfg)
	tuneServingGC()
	e, err := engine.Start(c.ctx, cfg)
	if err != nil {
		a.notifier.Close()
		return c.fail(err)
	}
	a.engine = e
	// The tray loop ends when rolecall is asked to stop (a signal, or
	// `rolecall stop`) or from its own Quit; the goroutine that ends it
	// in the first case is stopped in the second, and waited for.
	trayDone, quitter := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(quitter)
		select {
		case <-c.ctx.Done():
		case <-e.Done():
		case <-trayDone:
			return
		}
		tray.Quit()
	}()
	a.runTray(c.ctx)
	close(trayDone)
	<-quitter
	a.Close()
	return exitOK
}
