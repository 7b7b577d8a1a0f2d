// Package sso is rolecall's side of AWS IAM Identity Center: the AWS config
// file, the logins (device authorization, or authorization code with
// PKCE), token renewal, role discovery, role credentials and the AWS
// console sign-in URL. It implements creds.Fetcher and keeps its secrets in
// the keyring package; opening the browser and notifying are callbacks.
package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
)

// Options configure a Client. Keyring is required.
type Options struct {
	Keyring *keyring.Keyring
	// ConfigPath is the AWS config file (default ConfigPath()).
	ConfigPath string
	// CLICacheDir is the AWS CLI's SSO token cache (default
	// ~/.aws/sso/cache); WriteCLICache writes tokens back there.
	CLICacheDir   string
	WriteCLICache bool
	// LoginCacheDir is the AWS CLI's `aws login` cache (default
	// LoginCacheDir()), shared with the CLI: read when it changes,
	// written back when rolecall refreshes or signs in.
	LoginCacheDir string
	// OpenBrowser opens the verification URL: a callback of the UI (sso
	// imports no browser package). Nil: not opened; the login says where
	// to go instead.
	// It is called in a goroutine of its own and never waited for: a
	// browser launcher that stays (xdg-open holding on to a new browser)
	// never holds a login. It should return once the browser was asked.
	OpenBrowser func(url string) error
	// AcceptCallback, when set, decides whether the PKCE callback listener
	// answers a connection (local and remote address): the wiring passes
	// the listener's same-user check, so that another local user cannot
	// answer the browser's redirect and end the login.
	AcceptCallback func(local, remote net.Addr) error
	// LoginFlow is the default login flow: "" (device authorization) or
	// LoginFlowPKCE.
	LoginFlow string
	// Graphical reports whether a browser opened here can reach this
	// machine's loopback, which PKCE needs (default: a display and no SSH
	// session).
	Graphical func() bool
	// PKCEWait bounds the wait for the browser's redirect (default 10 min).
	PKCEWait time.Duration
	// SessionLength is how long Identity Center keeps a session after
	// sign-in (its session duration setting; default 8 h, its default).
	SessionLength time.Duration
	// DiscoveryTTL is how long discovered roles are cached (default 10 min).
	DiscoveryTTL time.Duration
	// Concurrency bounds the portal calls of one discovery (default 16).
	Concurrency int
	// CallTimeout bounds each HTTP attempt of an Identity Center or STS
	// call (default 10 s): a half-open connection cannot hold a refresh or
	// a login.
	CallTimeout time.Duration
	Logger      *slog.Logger
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultSessionLength is Identity Center's default session duration.
const DefaultSessionLength = 8 * time.Hour

// Client is rolecall's IAM Identity Center client. It implements
// creds.Fetcher. Its methods are safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[string]*sessionState
	logins   map[string]*loginState // by login_session
	// signinFlows are the `aws login` sign-ins running, by profile.
	signinFlows     map[string]*signinFlow
	signinCancelled map[string]time.Time  // when the user last cancelled one, by profile
	awsCfg          map[string]aws.Config // by region

	events events

	cfgMu    sync.Mutex
	cfgStamp fileStamp
	cfgRead  time.Time
	cfg      *AWSConfig // the AWS config file as of cfgStamp
}

// sessionState is what the client holds for one SSO session.
type sessionState struct {
	// renewing holds the one renewal at a time; waiting for it heeds the
	// caller's context, so that a stop with many slots waiting for one
	// session's renewal does not run their renewals one after the other.
	renewing chan struct{}

	// saveMu orders writes of the token's keyring entry with forgetToken's
	// check of what it holds.
	saveMu sync.Mutex

	// guarded by Client.mu
	token       *Token
	loaded      bool      // a load finished: token is what was stored
	loading     *loadCall // the load in progress, which others wait for
	cliStamp    fileStamp // of the AWS CLI's cache file at the last load
	lookedAt    time.Time // of the last load
	epoch       uint64    // the keyring's Epoch at the last load
	rejected    string    // access token Identity Center refused last
	flow        *flow
	cancelledAt time.Time
	user        string
	found       *discovery
	down        outage
	// discovering is the discovery in progress; discoverErr the last one's
	// failure, which answers until discoverRetry.
	discovering   *discoverCall
	discoverErr   error
	discoverRetry time.Time
}

// NewClient returns a Client.
func NewClient(opts Options) *Client {
	if opts.ConfigPath == "" {
		opts.ConfigPath = ConfigPath()
	}
	if opts.CLICacheDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			opts.CLICacheDir = filepath.Join(home, ".aws", "sso", "cache")
		}
	}
	if opts.LoginCacheDir == "" {
		opts.LoginCacheDir = LoginCacheDir()
	}
	if opts.OpenBrowser == nil {
		opts.OpenBrowser = func(string) error { return errors.New("no browser to open the sign-in page with") }
	}
	if opts.Graphical == nil {
		opts.Graphical = graphical
	}
	if opts.PKCEWait <= 0 {
		opts.PKCEWait = 10 * time.Minute
	}
	if opts.SessionLength <= 0 {
		opts.SessionLength = DefaultSessionLength
	}
	if opts.DiscoveryTTL <= 0 {
		opts.DiscoveryTTL = 10 * time.Minute
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	return &Client{opts: opts, log: opts.Logger, sessions: map[string]*sessionState{}, awsCfg: map[string]aws.Config{}}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// state returns the state of session key, creating it.
func (c *Client) state(key string) *sessionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[key]
	if !ok {
		s = &sessionState{renewing: make(chan struct{}, 1)}
		c.sessions[key] = s
	}
	return s
}

// bigConfig is the size of AWS config file (about 500 profiles) past which
// memory is handed back to the system after a parse.
const bigConfig = 64 << 10

// config is the AWS config file, read again only when it changed (its
// size, modification time or inode): menus, discovery and every refresh
// share one parse. The stamp is taken before the read, so a change during
// the read is seen next time.
func (c *Client) config(ctx context.Context) (*AWSConfig, error) {
	stamp := stampOf(c.opts.ConfigPath)
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	// A file changed within a second of being read may have changed again
	// within one tick of its timestamp: that stamp is not trusted.
	if c.cfg != nil && stamp == c.cfgStamp && stamp.mtime.Before(c.cfgRead.Add(-time.Second)) {
		return c.cfg, nil
	}
	read := time.Now()
	cfg, err := LoadAWSConfig(ctx, c.opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	c.cfg, c.cfgStamp, c.cfgRead = cfg, stamp, read
	if len(cfg.text) > bigConfig {
		// The parse of a big file leaves megabytes of garbage in a
		// process that is otherwise idle: hand them back now (once per
		// change of the file) rather than keep them resident.
		debug.FreeOSMemory()
	}
	return cfg, nil
}

// Session finds a session by name (or start URL); with an empty name, the
// only session there is.
func (c *Client) Session(ctx context.Context, name string) (*Session, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if s, ok := cfg.Sessions[name]; ok {
			return s, nil
		}
		if cfg.Missing {
			return nil, creds.Errorf(creds.NoAWSConfig, nil, cfg.Path)
		}
		return nil, creds.Errorf(creds.NoSuchSession, nil, name, cfg.Path, name)
	}
	switch len(cfg.Sessions) {
	case 0:
		if cfg.Missing {
			return nil, creds.Errorf(creds.NoAWSConfig, nil, cfg.Path)
		}
		return nil, creds.Errorf(creds.NoSSOSession, nil, cfg.Path)
	case 1:
		for _, s := range cfg.Sessions {
			return s, nil
		}
	}
	return nil, creds.Errorf(creds.ManySessions, nil, cfg.Path, len(cfg.Sessions), sessionNames(cfg))
}

func sessionNames(cfg *AWSConfig) string {
	var names []string
	for k := range cfg.Sessions {
		names = append(names, k)
	}
	return joinSorted(names)
}

// Retries belong to one layer: the credential manager's jittered backoff
// retries a failed refresh (and the slot shows why at once), so one
// Identity Center or STS call of a refresh is made once; during an outage
// the session's gate (outage.go) also spares the calls of its other slots.
// A discovery's listing calls, which nothing else retries, wait out
// throttling (throttled).
const (
	callAttempts     = 1
	callMaxBackoff   = time.Second
	throttleAttempts = 8
)

// awsConfig is the SDK configuration for calls in region: the SDK's own
// environment loading, so the standard endpoint overrides (AWS_ENDPOINT_URL,
// and per service AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL_SSO_OIDC,
// AWS_ENDPOINT_URL_STS) apply, but no credentials from the environment:
// the Identity Center calls are unsigned, and rolecall's own environment
// may point back at rolecall.
func (c *Client) awsConfig(ctx context.Context, region string) (aws.Config, error) {
	c.mu.Lock()
	cfg, ok := c.awsCfg[region]
	c.mu.Unlock()
	if ok {
		return cfg, nil
	}
	// The SDK's own environment loading, without its shared config files:
	// AWS_PROFILE naming a profile rolecall does not need must not break
	// the Identity Center calls.
	env, err := config.NewEnvConfig()
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS SDK configuration from the environment: %w", err)
	}
	cfg = aws.Config{
		Region:        region,
		Credentials:   aws.AnonymousCredentials{},
		HTTPClient:    awshttp.NewBuildableClient().WithTimeout(c.opts.CallTimeout),
		ConfigSources: []any{env},
		Retryer: func() aws.Retryer {
			// No retry quota: a discovery sends hundreds of calls at once.
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = callAttempts
				o.MaxBackoff = callMaxBackoff
				o.RateLimiter = ratelimit.None
			})
		},
	}
	// AWS_ENDPOINT_URL alone applies to every service (the per-service
	// variables, read by each client from ConfigSources, win over it).
	if env.BaseEndpoint != "" && (env.IgnoreConfiguredEndpoints == nil || !*env.IgnoreConfiguredEndpoints) {
		cfg.BaseEndpoint = aws.String(env.BaseEndpoint)
	}
	c.mu.Lock()
	c.awsCfg[region] = cfg
	c.mu.Unlock()
	return cfg, nil
}

// throttled lets one portal call of a discovery retry throttling
// (TooManyRequestsException, 429) longer, with the SDK's jittered backoff.
func throttled(o *sso.Options) {
	o.Retryer = retry.AddWithMaxBackoffDelay(retry.AddWithMaxAttempts(o.Retryer, throttleAttempts), 5*time.Second)
}

func (c *Client) oidc(ctx context.Context, region string) (*ssooidc.Client, error) {
	cfg, err := c.awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return ssooidc.NewFromConfig(cfg), nil
}

func (c *Client) portal(ctx context.Context, region string) (*sso.Client, error) {
	cfg, err := c.awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return sso.NewFromConfig(cfg), nil
}

func (c *Client) sts(ctx context.Context, region string, cr creds.Credentials) (*sts.Client, error) {
	cfg, err := c.awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = aws.NewCredentialsCache(staticProvider(cr))
	}), nil
}

// staticProvider hands the SDK a set of role credentials.
type staticProvider creds.Credentials

func (p staticProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{
		AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, SessionToken: p.SessionToken,
		CanExpire: true, Expires: p.Expiration, Source: "rolecall",
	}, nil
}

// keyring entries of a session
func tokenEntry(key string) string        { return "sso-token:" + key }
func registrationEntry(key string) string { return "sso-client:" + key }

// loadJSON reads a JSON keyring entry into v: false when there is none (or
// it is unreadable), an error when the keyring could not be read (locked,
// not answering: worth trying again).
func (c *Client) loadJSON(entry string, v any) (bool, error) {
	s, err := c.opts.Keyring.Get(entry)
	if errors.Is(err, keyring.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		c.log.Warn("keyring entry unreadable, ignoring it", "entry", entry, "err", err)
		return false, nil
	}
	return true, nil
}

// saveJSON writes v to a keyring entry. A keyring that refuses it (locked,
// not answering) keeps the write pending and retries it.
func (c *Client) saveJSON(entry string, v any) {
	b, _ := json.Marshal(v)
	if err := c.opts.Keyring.Set(entry, string(b)); err != nil {
		c.log.Warn("keyring write failed", "entry", entry, "err", err, "what_to_do", keyring.ErrorMessage(err))
	}
}
