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
	// pinned are the slots to restore at start.
	pinned []string
	// stop asks the process to shut down (`rolecall stop`).
	stop func()
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
}

// startEngine builds and starts the engine; on error nothing is left
// running.
func startEngine(cfg engineConfig) (_ *engine, err error) {
	st := cfg.settings
	e := &engine{secrets: &listenerSecrets{keyring: cfg.keyring, tokenFile: filepath.Join(cfg.stateDir, "token"), log: cfg.log}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	token, err := e.secrets.load(server.NewToken)
	if err != nil {
		return nil, err
	}
	cert, err := loadCertificate(cfg, e.secrets)
	if err != nil {
		return nil, err
	}
	if st.AuditLog {
		e.audit, err = server.OpenAudit(filepath.Join(cfg.stateDir, "audit.log"), server.AuditOptions{Logger: cfg.log})
		if err != nil {
			return nil, err
		}
	}
	e.manager = creds.NewManager(creds.Config{
		Fetcher:       cfg.fetcher,
		Logger:        cfg.log,
		RefreshWindow: st.RefreshWindow,
		Resolver:      slotResolver(st.SlotsOnDemand, cfg.resolve),
		OnLoginRequired: func(p creds.Profile) {
			if cfg.onLoginRequired != nil {
				cfg.onLoginRequired(p)
				return
			}
			cfg.log.Warn("login required: run `rolecall login`", "profile", p.Name)
		},
	})
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
	// The control socket first: it tells whether rolecall already runs,
	// which explains a taken port better than the port does.
	e.control, err = control.Open(cfg.socketPath, control.Options{
		Manager:   e.manager,
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
	if err := e.listener.Open(); err != nil {
		if addrInUse(err) {
			path, _ := settings.Path()
			return nil, creds.Errorf(creds.PortTaken, err, st.Port, path)
		}
		return nil, err
	}
	e.restorePins(cfg)
	return e, nil
}

// restorePins loads the pinned slots again. Naming them may need a
// discovery, which must not hold up the start for long.
func (e *engine) restorePins(cfg engineConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range cfg.pinned {
		p, err := cfg.resolve(ctx, control.LoadRequest{Profile: name})
		if err != nil {
			cfg.log.Warn("pinned slot not restored", "profile", name, "err", err)
			continue
		}
		e.manager.Restore(p.Name, p, true)
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
