package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// engineConfig is everything the engine is built from.
type engineConfig struct {
	settings   settings.Settings
	tlsCert    string // PEM files from the command line
	tlsKey     string
	socketPath string
	stateDir   string
	fetcher    creds.Fetcher
	resolve    func(context.Context, control.LoadRequest) (creds.Profile, error)
	sessions   control.Sessions
	// pins are the pinned slots, restored at start; nil: none.
	pins *pins
	// restoreDefault is the profile to put back into the default slot at
	// start (remembered from the last run); empty: none.
	restoreDefault string
	// stop asks the process to shut down (`rolecall stop`); fail does so
	// because of err, which becomes the process's exit status.
	stop func()
	fail func(err error)
	// onLoginRequired runs when a slot needs a login.
	onLoginRequired func(creds.Profile)
	keyring         *keyring.Keyring
	log             *slog.Logger
}

// engine is a running rolecall without its tray: manager, credential
// listener, control socket, audit log.
type engine struct {
	manager  *creds.Manager
	listener *server.Server
	control  *control.Server
	audit    *server.Audit
	secrets  *listenerSecrets
	pins     *pins // nil: nothing pinned

	stopKeyring context.CancelFunc // stops readKeyring; nil when not started
	bg          sync.WaitGroup     // readKeyring
}

// startEngine builds and starts the engine; on error nothing is left
// running.
func startEngine(cfg engineConfig) (_ *engine, err error) {
	st := cfg.settings
	e := &engine{secrets: &listenerSecrets{keyring: cfg.keyring, tokenFile: filepath.Join(cfg.stateDir, "token"), log: cfg.log}, pins: cfg.pins}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	token, cert, later, err := e.startSecrets(cfg)
	if err != nil {
		return nil, err
	}
	if st.AuditLog {
		e.audit, err = server.OpenAudit(filepath.Join(cfg.stateDir, "audit.log"), server.AuditOptions{Logger: cfg.log})
		if err != nil {
			return nil, err
		}
	}
	e.manager = newManager(cfg)
	e.listener, err = server.New(server.Options{
		Source:       e.manager,
		Addr:         net.JoinHostPort(st.Bind, strconv.Itoa(st.Port)),
		Token:        token,
		Certificate:  cert,
		IMDS:         st.IMDS,
		IMDSv1:       st.IMDSv1,
		Region:       firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"),
		Audit:        e.audit,
		SameUserOnly: st.SameUserOnly,
		Logger:       cfg.log,
	})
	if err != nil {
		return nil, err
	}
	e.secrets.setToken = e.listener.SetToken
	e.restore(cfg)
	if err := e.listener.Open(); err != nil {
		if addrInUse(err) {
			path, _ := settings.Path()
			return nil, creds.Errorf(creds.PortTaken, err, st.Port, path)
		}
		return nil, err
	}
	// The control channel last: everything it reaches exists and the
	// listener has its address. (The instance lock, taken before the
	// engine, tells whether rolecall already runs.)
	e.control, err = control.Open(cfg.socketPath, control.Options{
		Manager:   slotsWithPins{Manager: e.manager, pins: e.pins},
		Listener:  e.listener,
		Secrets:   e.secrets,
		Sessions:  cfg.sessions,
		Resolve:   cfg.resolve,
		TokenFile: e.secrets.tokenFile,
		Version:   version,
		Logger:    cfg.log,
		Stop:      cfg.stop,
	})
	if errors.Is(err, control.ErrAlreadyRunning) {
		return nil, alreadyRunning(cfg.socketPath, err)
	}
	if err != nil {
		return nil, err
	}
	if later {
		ctx, cancel := context.WithCancel(context.Background())
		e.stopKeyring = cancel
		e.bg.Add(1)
		go e.readKeyring(ctx, cfg)
	}
	return e, nil
}

// newManager builds the credential manager over the Identity Center
// client (its Fetcher) and the profile resolver.
func newManager(cfg engineConfig) *creds.Manager {
	return creds.NewManager(creds.Config{
		Fetcher: cfg.fetcher,
		// Restored slots are named only; naming a discovered role may
		// need Identity Center, so it happens in the fetch, retried.
		Names: creds.ResolverFunc(func(ctx context.Context, name string) (creds.Profile, error) {
			return cfg.resolve(ctx, control.LoadRequest{Profile: name})
		}),
		Logger:        cfg.log,
		RefreshWindow: cfg.settings.RefreshWindow,
		Resolver:      slotResolver(cfg.settings.SlotsOnDemand, cfg.resolve),
		OnLoginRequired: func(p creds.Profile) {
			if cfg.onLoginRequired != nil {
				cfg.onLoginRequired(p)
				return
			}
			cfg.log.Warn("login required: run `rolecall login`", "profile", p.Name)
		},
	})
}

// startSecrets is the bearer token and TLS pair the listener opens with.
// With a token file of ours and nothing that needs the TLS pair before the
// listener opens (a loopback address, or a pair from the command line),
// they come without the keyring, whose answers (D-Bus round trips, a
// locked keyring's 5 s) readKeyring applies once the listener serves:
// later is true. Else the keyring is read first, as on a first start.
func (e *engine) startSecrets(cfg engineConfig) (token string, cert *tls.Certificate, later bool, err error) {
	fromCLI := cfg.tlsCert != "" || cfg.tlsKey != ""
	if fromCLI || server.IsLoopback(cfg.settings.Bind) {
		if token, err = e.secrets.loadFile(); err == nil {
			if fromCLI {
				cert, err = loadCertificate(cfg, e.secrets)
			}
			return token, cert, true, err
		}
		cfg.log.Debug("bearer token: reading the keyring first", "reason", err)
	}
	if token, err = e.secrets.load(server.NewToken); err != nil {
		return "", nil, false, err
	}
	cert, err = loadCertificate(cfg, e.secrets)
	return token, cert, false, err
}

// readKeyring runs once the listener and the control channel serve with
// the token file's token: the keyring confirms the token (its own wins and
// replaces the listener's at once) and a TLS pair saved there switches
// the listener to HTTPS. An unusable saved pair stops rolecall, as it did
// at start before. The engine owns it: Close cancels and waits.
func (e *engine) readKeyring(ctx context.Context, cfg engineConfig) {
	defer e.bg.Done()
	if err := e.secrets.confirm(); err != nil {
		cfg.log.Warn("the keyring could not confirm the bearer token: the token file's is in force",
			"err", err, "what_to_do", keyring.ErrorMessage(err))
	}
	if ctx.Err() != nil || cfg.tlsCert != "" {
		return
	}
	cert, err := loadCertificate(cfg, e.secrets)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		cfg.log.Error("rolecall stops", "err", err)
		if cfg.fail != nil {
			cfg.fail(err)
		}
	case cert != nil:
		e.listener.StartTLS(cert)
		cfg.log.Info("serving HTTPS with the TLS pair saved in the keyring", "url", e.listener.URL())
	}
}

// restore puts the pinned slots and the remembered default slot back, by
// name: the manager resolves and fetches them in the background and
// retries until they work, so an offline start or a session that needs a
// login loses none of them.
func (e *engine) restore(cfg engineConfig) {
	if cfg.pins != nil {
		for _, name := range cfg.pins.List() {
			e.manager.Restore(name, creds.Profile{Name: name}, true)
		}
	}
	if cfg.restoreDefault != "" {
		e.manager.Restore(creds.DefaultSlot, creds.Profile{Name: cfg.restoreDefault}, false)
	}
}

// loadCertificate reads the TLS pair from the command line, else the one
// saved with `rolecall tls save`; nil when there is none.
func loadCertificate(cfg engineConfig, secrets *listenerSecrets) (*tls.Certificate, error) {
	if cfg.tlsCert != "" || cfg.tlsKey != "" {
		if cfg.tlsCert == "" || cfg.tlsKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		c, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("TLS pair: %w", err)
		}
		return &c, nil
	}
	certPEM, keyPEM, err := secrets.LoadTLS()
	if errors.Is(err, keyring.ErrLocked) || errors.Is(err, keyring.ErrTimeout) {
		cfg.log.Warn("the keyring could not be read: a TLS pair saved there is not used until rolecall starts again with the keyring unlocked",
			"err", err, "what_to_do", keyring.ErrorMessage(err))
		return nil, nil
	}
	if err != nil {
		return nil, nil // none saved (or no keyring): plain HTTP on loopback
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS pair saved in the keyring is unusable (replace it with `rolecall tls save` or remove it with `rolecall tls delete`): %w", err)
	}
	return &c, nil
}

// Close stops everything the engine started, in reverse order.
func (e *engine) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e.stopKeyring != nil {
		e.stopKeyring()
		e.bg.Wait() // at most one keyring call (its own timeout bounds it)
	}
	if e.control != nil {
		e.control.Close(ctx)
	}
	if e.listener != nil {
		e.listener.Close(ctx)
	}
	if e.manager != nil {
		e.manager.Close()
	}
	if e.audit != nil {
		e.audit.Close()
	}
}

// alreadyRunning says which process runs and what to do instead.
func alreadyRunning(socket string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := control.NewClient(socket).Status(ctx)
	if err != nil {
		return cause
	}
	return creds.Errorf(creds.AlreadyRunning, cause, st.PID)
}

// addrInUse: the port is taken (Unix EADDRINUSE, Windows WSAEADDRINUSE).
func addrInUse(err error) bool {
	// 10048 is WSAEADDRINUSE; wine's message for it is "winapi error #10048".
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.Errno(10048))
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// newLogger logs text lines to w.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
