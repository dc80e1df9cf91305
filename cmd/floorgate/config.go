package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/gateway"
	"github.com/floorgate/floorgate/internal/mail"
)

// config is everything the flags and the environment decide.
type config struct {
	Addr           string
	AdminAddr      string
	PostgresURL    string
	RedisURL       string
	RedisPrefix    string
	DataDir        string
	PepperFile     string
	AdminEmail     string
	AdminPassword  string
	AllowedOrigins []string
	ClientIPHeader string
	PprofAddr      string
	DeviceURL      string
	// ConsoleURL is where managers open the console: invitation and
	// reset links point there. InvitationTTL is how long an invitation
	// link is valid.
	ConsoleURL    string
	InvitationTTL time.Duration
	// SMTP is the parsed -smtp-url (nil: no mail); SMTPFrom the address
	// mails come from.
	SMTP     *mail.Server
	SMTPFrom string

	LogLevel        slog.Level
	InstanceID      string
	HashMemoryKiB   uint32
	HashTime        uint32
	ShutdownTimeout time.Duration
	StoreTimeout    time.Duration
	// IntrospectCache is -introspect-cache: 0 turns the cache off.
	IntrospectCache time.Duration
	// DeviceTokenCache is -device-token-cache: 0 turns the cache off.
	DeviceTokenCache time.Duration
	// ManagerTokenCache is -manager-token-cache: 0 turns the cache off.
	ManagerTokenCache time.Duration

	// Limits are the caps of the listeners and sockets (limits.go).
	Limits limits
}

// Defaults of the flags that the documented defaults (docs/OPERATIONS.md) do not fix.
const (
	defaultAddr            = ":8080"
	defaultAdminAddr       = ":8081"
	defaultDataDir         = "./floorgate-data"
	defaultAdminEmail      = "admin@floorgate.local"
	defaultRedisPrefix     = "fg:"
	defaultShutdownTimeout = 15 * time.Second
)

// parseConfig reads the flags in args (args[0] is the program name).
// Every flag defaults from its FLOORGATE_* variable, read through getenv,
// and then from the built-in default: a flag given on the command line
// wins over the environment, which wins over the default.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	c, _, err := parseCommand(args, getenv, usage, 0)
	return c, err
}

// parseCommand is parseConfig for a subcommand that takes exactly
// operands arguments after its flags, which it returns.
func parseCommand(args []string, getenv func(string) string, usage io.Writer, operands int) (config, []string, error) {
	name := "floorgate"
	if len(args) > 0 {
		name = args[0]
		args = args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)

	// envOf maps each flag to its variable. The variables are applied
	// after parsing, to the flags not given on the command line, so that
	// -h shows the built-in defaults and never the value of a variable
	// (which may hold a password).
	envOf := map[string]string{}
	str := func(p *string, flagName, key, def, help string) {
		fs.StringVar(p, flagName, def, help+" ($"+key+")")
		envOf[flagName] = key
	}
	durationVar := func(p *time.Duration, flagName, key string, def time.Duration, help string) {
		fs.DurationVar(p, flagName, def, help+" ($"+key+")")
		envOf[flagName] = key
	}
	uintVar := func(p *uint, flagName, key string, def uint, help string) {
		fs.UintVar(p, flagName, def, help+" ($"+key+")")
		envOf[flagName] = key
	}
	intVar := func(p *int, flagName, key string, def int, help string) {
		fs.IntVar(p, flagName, def, help+" ($"+key+")")
		envOf[flagName] = key
	}
	floatVar := func(p *float64, flagName, key string, def float64, help string) {
		fs.Float64Var(p, flagName, def, help+" ($"+key+")")
		envOf[flagName] = key
	}
	boolVar := func(p *bool, flagName, key string, def bool, help string) {
		fs.BoolVar(p, flagName, def, help+" ($"+key+")")
		envOf[flagName] = key
	}

	var c config
	var origins, logLevel, smtpURL string
	var hashMem, hashTime uint
	str(&c.Addr, "addr", "FLOORGATE_ADDR", defaultAddr,
		"listen address of the device API and websockets")
	str(&c.AdminAddr, "admin-addr", "FLOORGATE_ADMIN_ADDR", defaultAdminAddr,
		"listen address of the admin API")
	str(&c.PostgresURL, "postgres-url", "FLOORGATE_POSTGRES_URL", "",
		"PostgreSQL URL of the registry; empty: the embedded SQLite registry in the data dir")
	str(&c.RedisURL, "redis-url", "FLOORGATE_REDIS_URL", "",
		"Redis of the live sessions: redis://host:port/db, rediss://..., redis://...?master_name=M (Sentinel), "+
			"redis+cluster://host:port?addr=host2:port or host1:port,host2:port (Cluster); empty: in-process sessions, one instance only")
	str(&c.RedisPrefix, "redis-prefix", "FLOORGATE_REDIS_PREFIX", defaultRedisPrefix,
		"prefix of every Redis key, so that several Floorgates can share one Redis")
	str(&c.DataDir, "data-dir", "FLOORGATE_DATA_DIR", defaultDataDir,
		"directory of the embedded registry and generated secrets")
	str(&c.PepperFile, "pepper-file", "FLOORGATE_PEPPER_FILE", "",
		"file holding the hashing pepper (at least 14 bytes); empty: generated into the data dir on first start")
	str(&c.AdminEmail, "admin-email", "FLOORGATE_ADMIN_EMAIL", defaultAdminEmail,
		"email of the first admin, created when no admin exists")
	str(&c.AdminPassword, "admin-password", "FLOORGATE_ADMIN_PASSWORD", "",
		"password of the first admin; empty: generated and printed once")
	str(&origins, "allowed-origins", "FLOORGATE_ALLOWED_ORIGINS", "",
		"comma-separated browser origins allowed to open websockets and to call the device API (CORS); empty: none")
	str(&c.ClientIPHeader, "client-ip-header", "FLOORGATE_CLIENT_IP_HEADER", "",
		"header holding the client address set by a trusted load balancer (X-Forwarded-For, X-Real-IP); empty: the connection's address")
	str(&c.DeviceURL, "device-url", "FLOORGATE_DEVICE_URL", "",
		"URL handhelds reach the device API at (https://floor.example.com), carried by enrollment tokens' QR codes; empty: http://localhost and -addr's port")
	str(&c.ConsoleURL, "console-url", "FLOORGATE_CONSOLE_URL", "",
		"URL managers open the console at (https://floorgate.example.com), where invitation and reset links point; empty: http://localhost and -admin-addr's port")
	durationVar(&c.InvitationTTL, "invitation-ttl", "FLOORGATE_INVITATION_TTL", devices.DefaultInvitationTTL,
		"how long a manager's invitation link is valid (1h to 720h)")
	str(&smtpURL, "smtp-url", "FLOORGATE_SMTP_URL", "",
		"mail server for invitation and password-reset links: smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://…; empty: no mail, the admin gets the link")
	str(&c.SMTPFrom, "smtp-from", "FLOORGATE_SMTP_FROM", "",
		"the address mails come from (Floorgate <floorgate@example.com>); required with -smtp-url")
	str(&c.PprofAddr, "pprof-addr", "FLOORGATE_PPROF_ADDR", "",
		"listen address of net/http/pprof (/debug/pprof/), for profiling; bind it to 127.0.0.1 only; empty: off")
	str(&logLevel, "log-level", "FLOORGATE_LOG_LEVEL", "info",
		"log level: debug, info, warn or error")
	str(&c.InstanceID, "instance-id", "FLOORGATE_INSTANCE_ID", "",
		"name of this instance among several; empty: host name and a random suffix")
	uintVar(&hashMem, "hash-memory-kib", "FLOORGATE_HASH_MEMORY_KIB", uint(devices.DefaultHashParams().MemoryKiB),
		"argon2id memory of new PIN and password hashes, KiB (lower only for tests)")
	uintVar(&hashTime, "hash-time", "FLOORGATE_HASH_TIME", uint(devices.DefaultHashParams().Time),
		"argon2id passes of new PIN and password hashes (lower only for tests)")
	durationVar(&c.ShutdownTimeout, "shutdown-timeout", "FLOORGATE_SHUTDOWN_TIMEOUT", defaultShutdownTimeout,
		"how long a graceful stop waits for requests in flight")
	durationVar(&c.StoreTimeout, "store-timeout", "FLOORGATE_STORE_TIMEOUT", defaultStoreTimeout,
		"deadline of each call to PostgreSQL or Redis (statement, command, connection wait); a store that does not answer within it fails the request with 503")
	durationVar(&c.IntrospectCache, "introspect-cache", "FLOORGATE_INTROSPECT_CACHE", gateway.DefaultIntrospectCache,
		"how long POST /v1/introspect may answer for a live session from this instance's last store read (an end on any instance drops it at once through the fan-out); 0: ask the store every time")
	durationVar(&c.DeviceTokenCache, "device-token-cache", "FLOORGATE_DEVICE_TOKEN_CACHE", devices.DefaultTokenCacheTTL,
		"how long a websocket connect may be let in on this instance's memory of its device token (a revocation or re-enrollment on any instance drops it at once through the fan-out); 0: ask the registry every time")
	durationVar(&c.ManagerTokenCache, "manager-token-cache", "FLOORGATE_MANAGER_TOKEN_CACHE", devices.DefaultManagerTokenCacheTTL,
		"how long an admin API call may be let in on this instance's memory of its manager token (revoking the token, or disabling, deleting or changing the roles of its manager on any instance drops it at once through the fan-out); 0: ask the registry every time")
	limitFlags(&c.Limits, intVar, floatVar, boolVar)

	if err := fs.Parse(args); err != nil {
		return config{}, nil, err
	}
	if fs.NArg() != operands {
		if operands == 0 {
			return config{}, nil, fmt.Errorf("unexpected arguments %q: floorgate takes flags only", fs.Args())
		}
		return config{}, nil, fmt.Errorf("%s: want %d argument(s) after the flags, got %q", name, operands, fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		key := envOf[f.Name]
		if given[f.Name] || key == "" {
			return
		}
		if v := getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				// Not the value: it may be a secret.
				envErrs = append(envErrs, fmt.Errorf("$%s: not a valid value for -%s", key, f.Name))
			}
		}
	})
	if len(envErrs) > 0 {
		return config{}, nil, errors.Join(envErrs...)
	}

	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return config{}, nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", logLevel)
	}
	for o := range strings.SplitSeq(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	if hashMem < 8 || hashMem > 4<<20 {
		return config{}, nil, fmt.Errorf("-hash-memory-kib %d: want 8 to %d", hashMem, 4<<20)
	}
	if hashTime < 1 || hashTime > 100 {
		return config{}, nil, fmt.Errorf("-hash-time %d: want 1 to 100", hashTime)
	}
	c.HashMemoryKiB, c.HashTime = uint32(hashMem), uint32(hashTime)
	if c.ShutdownTimeout <= 0 {
		return config{}, nil, fmt.Errorf("-shutdown-timeout %v: want more than 0", c.ShutdownTimeout)
	}
	if c.StoreTimeout < 10*time.Millisecond || c.StoreTimeout > time.Minute {
		return config{}, nil, fmt.Errorf("-store-timeout %v: want 10ms to 1m", c.StoreTimeout)
	}
	if c.IntrospectCache < 0 || c.IntrospectCache > 10*time.Second {
		return config{}, nil, fmt.Errorf("-introspect-cache %v: want 0 to 10s", c.IntrospectCache)
	}
	if c.DeviceTokenCache < 0 || c.DeviceTokenCache > 5*time.Minute {
		return config{}, nil, fmt.Errorf("-device-token-cache %v: want 0 to 5m", c.DeviceTokenCache)
	}
	if c.ManagerTokenCache < 0 || c.ManagerTokenCache > 5*time.Second {
		return config{}, nil, fmt.Errorf("-manager-token-cache %v: want 0 to 5s", c.ManagerTokenCache)
	}
	if c.DeviceURL == "" {
		c.DeviceURL = "http://" + browsableAddr(c.Addr)
	} else if err := checkDeviceURL(c.DeviceURL); err != nil {
		return config{}, nil, err
	}
	if c.ConsoleURL == "" {
		c.ConsoleURL = "http://" + browsableAddr(c.AdminAddr)
	} else if err := checkURL("-console-url", c.ConsoleURL); err != nil {
		return config{}, nil, err
	}
	if smtpURL != "" {
		srv, err := mail.ParseURL(smtpURL)
		if err != nil {
			// Not the URL: it may hold a password.
			return config{}, nil, fmt.Errorf("-smtp-url: %w", err)
		}
		if _, err := mail.New(srv, c.SMTPFrom, mail.Options{}); err != nil {
			return config{}, nil, fmt.Errorf("-smtp-from: %w", err)
		}
		c.SMTP = &srv
	}
	if c.InvitationTTL < devices.MinInvitationTTL || c.InvitationTTL > devices.MaxInvitationTTL {
		return config{}, nil, fmt.Errorf("-invitation-ttl %v: want %v to %v", c.InvitationTTL, devices.MinInvitationTTL, devices.MaxInvitationTTL)
	}
	if strings.ContainsAny(c.RedisPrefix, "{}") {
		return config{}, nil, fmt.Errorf("-redis-prefix %q: must not contain '{' or '}' (they choose Redis Cluster slots)", c.RedisPrefix)
	}
	if c.DataDir == "" {
		return config{}, nil, errors.New("-data-dir is empty")
	}
	if err := c.Limits.check(); err != nil {
		return config{}, nil, err
	}
	if c.InstanceID == "" {
		c.InstanceID = defaultInstanceID()
	}
	return c, fs.Args(), nil
}

// defaultInstanceID names this process among several: the host name and
// a random suffix, so that two processes on one host differ.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "floorgate"
	}
	var b [4]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// checkDeviceURL accepts an http or https URL with a host and nothing
// a handheld should not be handed (credentials, a query, a fragment).
func checkDeviceURL(s string) error { return checkURL("-device-url", s) }

// checkURL is checkDeviceURL for the flag named.
func checkURL(flagName, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q: want http(s)://host[:port][/path], without credentials, query or fragment", flagName, s)
	}
	return nil
}
