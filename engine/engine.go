// Package engine is rolecall without its UI: the instance lock, the
// keyring, the Identity Center client, the credential manager, the
// credential listener and its bearer token and TLS pair, the control
// channel, the pinned and favourite names, state.json, and the goroutines
// that follow sessions, the keyring and the AWS config. The tray and
// `rolecall serve` are adapters on top of it; it imports no UI package:
// opening a URL and notifying are callbacks it is given.
package engine

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/grants"
	"github.com/rolecall/rolecall/handoff"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/remote"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
)

// Config is what the engine is built from. The settings come loaded (and
// with the command line's flags applied); the callbacks are the UI's.
type Config struct {
	Settings settings.Settings
	// PortFlag: Settings.Port came from the command line (--port), so a
	// taken port is changed there, not in the settings file.
	PortFlag bool
	// SettingsPath is the settings file: the pinned slots and the
	// favourites are written back into it.
	SettingsPath string
	// StateDir holds the instance lock, the token file, state.json and
	// the audit log.
	StateDir string
	// Socket is the control channel's path (control.SocketPath).
	Socket string
	// TLSCert and TLSKey are PEM files from the command line; empty: the
	// pair saved in the keyring, if any.
	TLSCert, TLSKey string
	// Version is what `rolecall version` and the status say.
	Version string
	// Interactive: a person sits at the desktop (the tray). A slot that
	// needs a login starts one, and roles are discovered after each login
	// and every ten minutes; headless, a needed login is logged.
	Interactive bool
	// OpenURL starts the browser on a page of rolecall's that carries no
	// secret (a file:// URL) and returns without waiting for it
	// (handoff.Launch); every URL the engine opens reaches the browser
	// through such a page (see Engine.OpenURL). Nil: no page is
	// opened.
	OpenURL func(string) error
	// Failed is told of a login or a load that failed in the background
	// (the raw error: the UI says it in its words and logs the error);
	// nil: it is logged.
	Failed func(op Op, name string, err error)
	Log    *slog.Logger

	// The engine's sources; nil: the Identity Center client's. Tests put
	// fakes here.
	Keyring  *keyring.Keyring // closed by Close
	Fetcher  creds.Fetcher
	Resolve  func(context.Context, control.LoadRequest) (creds.Profile, error)
	Sessions control.Sessions
}

// Engine is a running rolecall without its UI: the instance lock, the
// keyring, the Identity Center client, the credential manager, the
// listener and its secrets, the control channel, the pinned and favourite
// names, state.json, and the goroutines that follow sessions, the keyring
// and the AWS config. Adapters (the tray, the CLI's serve) act through its
// methods only.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	lock      *instanceLock // released last
	keyring   *keyring.Keyring
	ic        *sso.Client
	resolve   func(context.Context, control.LoadRequest) (creds.Profile, error)
	signIn    func(ctx context.Context, session string, opts sso.LoginOptions) error
	manager   *creds.Manager
	listener  *server.Server
	control   *control.Server
	audit     *server.Audit
	grants    *grants.Store  // grants.go
	sshLeases *remote.Leases // grants.go
	secrets   *secrets
	carrier   *carrier // the restored slots' credentials across a restart
	pinned    *names
	favorites *names
	recent    *recent
	state     *savedState // state.json: the default slot's profile, the recent roles
	last      remembered  // what state.json held at start
	changes   hub
	handoff   *handoff.Server // every URL opened in the browser; nil without a browser
	bind      string          // set when the configured bind cannot be served (an unusable TLS pair): loopback
	waiting   waiting         // roles asked for while their session was signed out

	ctx       context.Context
	cancel    context.CancelFunc
	bg        sync.WaitGroup // readKeyring; waited for before the rest stops
	wg        sync.WaitGroup // the followers and the logins started
	lifeMu    sync.Mutex     // guards closing, so no goroutine is added once Close waits
	closing   bool
	logins    chan struct{} // a session signed in: discover its roles
	saveState chan struct{} // the recent roles changed: save state.json
	stopped   chan struct{} // closed by `rolecall stop`
	stopOnce  sync.Once
	closeOnce sync.Once
}

// Start takes the instance lock and starts the engine step by step:
// keyring, Identity Center client, manager, listener, control channel,
// then the followers. On error nothing is left running.
func Start(ctx context.Context, cfg Config) (_ *Engine, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg: cfg, log: cfg.Log,
		logins: make(chan struct{}, 1), saveState: make(chan struct{}, 1), stopped: make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	for _, step := range []func() error{e.takeLock, e.openFiles, e.openIdentityCenter, e.openListener, e.openControl} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	e.follow()
	e.log.Info("rolecall serving", "version", cfg.Version, "url", e.listener.URL(), "token_file", e.secrets.tokenFile,
		"control", cfg.Socket, "imds", cfg.Settings.IMDS, "audit", cfg.Settings.AuditLog, "tray", cfg.Interactive)
	return e, nil
}

// takeLock: one rolecall per state dir.
func (e *Engine) takeLock() (err error) {
	e.privateFiles()
	e.lock, err = lockInstance(e.cfg.StateDir)
	return err
}

// openFiles reads what the last run left: state.json,
// the pinned and favourite names; temp files of a write a crash
// interrupted are removed (the lock is held: no other writer is at work).
func (e *Engine) openFiles() error {
	cfg := e.cfg
	if cfg.SettingsPath != "" {
		if removed, err := settings.RemoveTemps(cfg.SettingsPath); err != nil || len(removed) > 0 {
			e.log.Info("removed temp files of an interrupted settings write", "files", removed, "err", err)
		}
	}
	e.state, e.last = openState(cfg.StateDir, e.log)
	e.recent = &recent{names: e.last.Recent[:min(len(e.last.Recent), recentMax)]}
	e.pinned = newNames(cfg.SettingsPath, keyPinned, cfg.Settings.Pinned)
	e.favorites = newNames(cfg.SettingsPath, keyFavorites, cfg.Settings.Favorites)
	e.secrets = &secrets{tokenFile: filepath.Join(cfg.StateDir, "token"), log: e.log}
	if cfg.OpenURL != nil {
		e.handoff = handoff.New(handoff.Options{Dir: cfg.StateDir, WriteFile: private.WriteFile,
			Accept: server.SameUser, Launch: cfg.OpenURL, Logger: e.log})
	}
	return e.openGrants()
}

// openIdentityCenter opens the keyring (read once the listener serves,
// see readKeyring: no D-Bus round trip before it; its connection is
// opened meanwhile in the background, see keyring.Warm) and the Identity
// Center client, and builds the manager over them.
func (e *Engine) openIdentityCenter() error {
	cfg := e.cfg
	e.keyring = cfg.Keyring
	if e.keyring == nil {
		e.keyring = keyring.Open("rolecall", e.log)
	}
	e.keyring.Warm()
	e.secrets.keyring = e.keyring
	st := cfg.Settings
	e.ic = sso.NewClient(sso.Options{Keyring: e.keyring, WriteCLICache: st.CLICacheWrite, LoginFlow: st.LoginFlow,
		OpenBrowser: e.OpenURL, SessionLength: st.SSOSessionDuration, Logger: e.log,
		// Another local user must not answer the browser's redirect.
		AcceptCallback: server.SameUser})
	ic := identityCenter{client: e.ic, open: e.openFromControl(), log: e.log} // the hand-off: its URL carries a state
	e.resolve, e.signIn = ic.resolve, ic.signIn
	if cfg.Resolve != nil {
		e.resolve = cfg.Resolve
	}
	if cfg.Sessions == nil {
		e.cfg.Sessions = ic
	}
	var fetcher creds.Fetcher = e.ic
	if cfg.Fetcher != nil {
		fetcher = cfg.Fetcher
	}
	e.carrier = newCarrier(e.keyring, e.log)
	e.manager = newManager(st, fetcher, e.carrier, e.resolve, e.loginRequired, e.last, e.log)
	return nil
}

// openListener opens the credential listener (and the audit log it
// writes) with the bearer token and TLS pair, and puts the pinned slots
// and the remembered default slot back.
func (e *Engine) openListener() error {
	st := e.cfg.Settings
	token, cert, later, err := e.startSecrets()
	if err != nil {
		return err
	}
	if st.AuditLog {
		e.audit, err = server.OpenAudit(filepath.Join(e.cfg.StateDir, "audit.log"), server.AuditOptions{Logger: e.log})
		if err != nil {
			return err
		}
	}
	e.listener, err = server.New(server.Options{
		Source:       e.manager,
		Addr:         net.JoinHostPort(cmp.Or(e.bind, st.Bind), strconv.Itoa(st.Port)),
		Token:        token,
		Certificate:  cert,
		IMDS:         st.IMDS,
		IMDSv1:       st.IMDSv1,
		Region:       firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"),
		Audit:        e.audit,
		Grants:       e.grants,
		SameUserOnly: st.SameUserOnly,
		Logger:       e.log,
	})
	if err != nil {
		return err
	}
	e.secrets.setToken = e.listener.SetToken
	e.restore()
	if err := e.listener.Open(); err != nil {
		if addrInUse(err) && e.cfg.PortFlag {
			return creds.Errorf(creds.PortTakenFlag, err, st.Port)
		}
		if addrInUse(err) {
			path, _ := settings.Path()
			return creds.Errorf(creds.PortTaken, err, st.Port, path)
		}
		return err
	}
	if later {
		e.bg.Add(1)
		go e.readKeyring(e.ctx)
	}
	return nil
}

// openControl opens the control channel last: everything it reaches
// exists and the listener has its address. (The instance lock, taken
// first, tells whether rolecall already runs.)
func (e *Engine) openControl() (err error) {
	e.control, err = control.Open(e.cfg.Socket, control.Options{
		Manager:   e.slots(),
		Listener:  e.listener,
		Secrets:   e.secrets,
		Sessions:  e.cfg.Sessions,
		Grants:    e.grants,
		SSH:       e.sshLeases,
		Resolve:   e.resolve,
		TokenFile: e.secrets.tokenFile,
		IMDS:      e.cfg.Settings.IMDS,
		Version:   e.cfg.Version,
		Logger:    e.log,
		Stop:      e.Stop,
		Save:      e.saveLoad,
		// The code of a cross-device `aws login` sign-in.
		SigninCode: e.ic.SigninCode,
		Handout:    e.audit.RecordControl, // a nil audit records nothing
		Open:       e.openFromControl(),
	})
	if errors.Is(err, control.ErrAlreadyRunning) {
		return alreadyRunning(e.cfg.Socket, err)
	}
	return err
}

// openFromControl is the engine's one path to the browser as a callback
// (the control channel's Open, the `aws login` sign-in's), or nil when
// there is no browser.
func (e *Engine) openFromControl() func(string) error {
	if e.handoff == nil {
		return nil
	}
	return e.OpenURL
}

// newManager builds the credential manager over the Identity Center
// client (its Fetcher), the keyring's credentials of the last run (its
// Carrier) and the profile resolver.
func newManager(st settings.Settings, fetcher creds.Fetcher, carrier creds.Carrier, resolve func(context.Context, control.LoadRequest) (creds.Profile, error),
	onLoginRequired func(creds.Profile), last remembered, log *slog.Logger) *creds.Manager {
	return creds.NewManager(creds.Config{
		Fetcher: fetcher,
		Carrier: carrier,
		// Restored slots are named only; naming a discovered role may
		// need Identity Center, so it happens in the fetch, retried.
		Names: creds.ResolverFunc(func(ctx context.Context, name string) (creds.Profile, error) {
			return resolve(ctx, control.LoadRequest{Profile: name})
		}),
		Logger:          log,
		RefreshWindow:   st.RefreshWindow,
		Resolver:        slotResolver(st.SlotsOnDemand, resolve),
		OnLoginRequired: onLoginRequired,
		Unloaded:        last.Unloaded,
		SignedOut:       last.SignedOut,
	})
}

// startSecrets is the bearer token and TLS pair the listener opens with.
// With a token file of ours and nothing that needs the TLS pair before the
// listener opens (a loopback address, or a pair from the command line),
// they come without the keyring, whose answers (D-Bus round trips, a
// locked keyring's 5 s) readKeyring applies once the listener serves:
// later is true. Else the keyring is read first, as on a first start.
func (e *Engine) startSecrets() (token string, cert *tls.Certificate, later bool, err error) {
	fromCLI := e.cfg.TLSCert != "" || e.cfg.TLSKey != ""
	if fromCLI || server.IsLoopback(e.cfg.Settings.Bind) {
		if token, err = e.secrets.loadFile(); err == nil {
			if fromCLI {
				cert, err = e.loadCertificate()
			}
			return token, cert, true, err
		}
		e.log.Debug("bearer token: reading the keyring first", "reason", err)
	}
	if token, err = e.secrets.load(server.NewToken); err != nil {
		return "", nil, false, err
	}
	cert, err = e.loadCertificate()
	if err != nil && !fromCLI {
		// An unusable saved pair: rolecall still serves, plain HTTP on
		// loopback, so that `rolecall tls delete` / `tls save` (which
		// need a running rolecall) can mend it.
		e.log.Warn("serving plain HTTP on 127.0.0.1 instead of "+e.cfg.Settings.Bind+": "+err.Error(),
			"what_to_do", "rolecall tls delete (or rolecall tls save --cert FILE --key FILE), then restart rolecall")
		e.bind = "127.0.0.1"
		cert, err = nil, nil
	}
	return token, cert, !e.secrets.Settled(), err
}

// readKeyring runs once the listener and the control channel serve with
// the token file's token: the keyring confirms the token (its own wins and
// replaces the listener's at once; a keyring that cannot be read now is
// asked again when it answers, see followKeyring). A loopback listener
// stays plain HTTP whatever pair is saved; a saved pair that is unusable
// is reported, and rolecall goes on serving. The engine owns it: Close
// cancels and waits.
func (e *Engine) readKeyring(ctx context.Context) {
	defer e.bg.Done()
	e.confirmToken()
	if ctx.Err() != nil || e.cfg.TLSCert != "" {
		return
	}
	if _, err := e.loadCertificate(); err != nil && ctx.Err() == nil {
		e.log.Warn(err.Error(), "what_to_do", "rolecall tls delete (or rolecall tls save --cert FILE --key FILE)")
	}
}

// confirmToken has the keyring settle the bearer token in force (see
// secrets.confirm).
func (e *Engine) confirmToken() {
	if err := e.secrets.confirm(); err != nil {
		e.log.Warn("the keyring could not confirm the bearer token: the token file's is in force; it is asked again when it answers",
			"err", err, "what_to_do", keyring.ErrorMessage(err))
	}
}

// restore puts the remembered default slot and the pinned slots back, by
// name: the manager serves the credentials the last run held for them
// (carry.go) or resolves and fetches them in the background and retries
// until they work, so an offline start or a session that needs a login
// loses none of them. The default slot goes first: it is the one most
// clients ask for, and the keyring answers one call at a time.
func (e *Engine) restore() {
	pins := e.pinned.List()
	e.carrier.expect(carriedNames(e.last.Default, pins))
	if e.last.Default != "" {
		e.manager.Restore(creds.DefaultSlot, creds.Profile{Name: e.last.Default}, false)
	}
	for _, name := range pins {
		e.manager.Restore(name, creds.Profile{Name: name}, true)
	}
}

// loadCertificate reads the TLS pair from the command line, else the one
// saved with `rolecall tls save`; nil when there is none.
func (e *Engine) loadCertificate() (*tls.Certificate, error) {
	if e.cfg.TLSCert != "" || e.cfg.TLSKey != "" {
		if e.cfg.TLSCert == "" || e.cfg.TLSKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		c, err := tls.LoadX509KeyPair(e.cfg.TLSCert, e.cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS pair: %w", err)
		}
		return &c, nil
	}
	certPEM, keyPEM, err := e.secrets.LoadTLS()
	if errors.Is(err, keyring.ErrLocked) || errors.Is(err, keyring.ErrTimeout) {
		e.log.Warn("the keyring could not be read: a TLS pair saved there is not used until rolecall starts again with the keyring unlocked",
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

// Close stops everything the engine started, in reverse order; the
// keyring (pending writes get a last try) and the instance lock go last.
func (e *Engine) Close() { e.closeOnce.Do(e.close) }

func (e *Engine) close() {
	e.lifeMu.Lock()
	e.closing = true
	e.lifeMu.Unlock()
	e.cancel()
	e.bg.Wait() // at most one keyring call (its own timeout bounds it)
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
	e.wg.Wait()
	e.closeGrants()
	if e.audit != nil {
		e.audit.Close()
	}
	if e.handoff != nil {
		e.handoff.Close()
	}
	if e.keyring != nil {
		e.keyring.Close()
	}
	e.lock.Release()
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
