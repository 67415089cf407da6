package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Modes.
const (
	ModeDevelopment = "development"
	ModeProduction  = "production"
)

// ExampleJWTSecret is the placeholder secret of older examples: refused in
// production and on any non-loopback listen address.
const ExampleJWTSecret = "change_me_in_production"

// Config is the whole service configuration. Sources, strongest first:
// environment, file, defaults.
type Config struct {
	Mode      string          `koanf:"mode"`
	Server    ServerConfig    `koanf:"server"`
	Postgres  PostgresConfig  `koanf:"postgres"`
	Redis     RedisConfig     `koanf:"redis"`
	Logging   LoggingConfig   `koanf:"logging"`
	Auth      AuthConfig      `koanf:"auth"`
	Crypto    CryptoConfig    `koanf:"crypto"`
	Providers ProvidersConfig `koanf:"providers"`
	Keys      KeysConfig      `koanf:"keys"`
	Sync      SyncConfig      `koanf:"sync"`
	Log       LogConfig       `koanf:"log"`
	Metrics   MetricsConfig   `koanf:"metrics"`
	RateLimit RateLimitConfig `koanf:"ratelimit"`
	Tracing   TracingConfig   `koanf:"tracing"`
	// Warnings are problems that do not stop the start (an EZ_ variable
	// that sets nothing); serve logs them.
	Warnings []string `koanf:"-"`
}

// TracingConfig controls OpenTelemetry tracing (OTLP over HTTP).
type TracingConfig struct {
	Enabled     bool    `koanf:"enabled"`
	Endpoint    string  `koanf:"endpoint"`
	Insecure    bool    `koanf:"insecure"`
	SampleRatio float64 `koanf:"sample_ratio"`
	ServiceName string  `koanf:"service_name"`
}

// MetricsConfig controls /metrics.
type MetricsConfig struct {
	Enabled bool `koanf:"enabled"`
	// BearerToken, when set, must be sent as Authorization: Bearer.
	BearerToken string `koanf:"bearer_token"`
}

// RateLimitConfig holds the rate-limit rules.
type RateLimitConfig struct {
	Enabled bool `koanf:"enabled"`
	// Backend is memory (one replica) or redis (shared by every replica).
	Backend string `koanf:"backend"`
	// Replicas divides the limits of the local fallback used when Redis fails.
	Replicas int          `koanf:"replicas"`
	Rules    []RuleConfig `koanf:"rules"`
}

// RuleConfig is one rate-limit rule.
type RuleConfig struct {
	Name      string        `koanf:"name"`
	Scope     string        `koanf:"scope"`
	Algorithm string        `koanf:"algorithm"`
	Limit     int           `koanf:"limit"`
	Window    time.Duration `koanf:"window"`
	Burst     int           `koanf:"burst"`
	Match     string        `koanf:"match"`
	Role      string        `koanf:"role"`
}

// LogConfig sizes the access-log pipeline (POST /logs).
type LogConfig struct {
	QueueCapacity   int           `koanf:"queue_capacity"`
	BatchSize       int           `koanf:"batch_size"`
	FlushMS         int           `koanf:"flush_ms"`
	Writers         int           `koanf:"writers"`
	MaxBatch        int           `koanf:"max_batch"`
	MaxBodyBytes    int64         `koanf:"max_body_bytes"`
	Ack             string        `koanf:"ack"`
	CommitTimeout   time.Duration `koanf:"commit_timeout"`
	RetryMax        time.Duration `koanf:"retry_max"`
	RetentionDays   int           `koanf:"retention_days"`
	PartitionsAhead int           `koanf:"partitions_ahead"`
	MaxQueryDays    int           `koanf:"max_query_days"`
	// MaxClockSkew is how far ahead of this server's clock a record's
	// created_at may be.
	MaxClockSkew time.Duration `koanf:"max_clock_skew"`
	// StallTimeout: records waiting while nothing has committed for this
	// long make readiness and /health report the log pipeline down.
	StallTimeout time.Duration `koanf:"stall_timeout"`
	// MaxWriteAttempts: a batch that fails the same way (not a lost
	// connection) this many times is quarantined.
	MaxWriteAttempts int `koanf:"max_write_attempts"`
}

// SyncConfig tunes the Redis snapshot publisher.
type SyncConfig struct {
	// PollInterval is the fallback for how often the publisher looks for
	// changes (every commit wakes it at once through LISTEN/NOTIFY).
	PollInterval      time.Duration `koanf:"poll_interval"`
	ReconcileInterval time.Duration `koanf:"reconcile_interval"`
	RetryMax          time.Duration `koanf:"retry_max"`
	ResyncTimeout     time.Duration `koanf:"resync_timeout"`
	// DegradedAfter is how long the publisher may keep failing before
	// /health reports the service degraded.
	DegradedAfter time.Duration `koanf:"degraded_after"`
	// BalancerExpiry is how long after its last heartbeat a balancer is
	// still exported as metrics (it stays in GET /sync/status).
	BalancerExpiry time.Duration `koanf:"balancer_expiry"`
	// BindingResolveBudget bounds the time one binding's resolution may
	// take (in a build, a delta, or the binding's own write); a binding
	// that exceeds it is published fail-closed, never the whole publisher.
	BindingResolveBudget time.Duration `koanf:"binding_resolve_budget"`
	// ChunkSize is how many keys or bindings a full resync reads from the
	// database at a time and how many fields a reconcile scans per HSCAN:
	// the publisher's memory is bounded by it, not by the configuration.
	ChunkSize int `koanf:"chunk_size"`
}

// KeysConfig bounds what a client key may ask for.
type KeysConfig struct {
	MaxRPM          int `koanf:"max_rpm"`
	MaxTPM          int `koanf:"max_tpm"`
	MaxGraceSeconds int `koanf:"max_grace_seconds"`
}

// ProvidersConfig holds the provider rules.
type ProvidersConfig struct {
	// AllowPrivateNetworks lets base_url point at loopback, link-local and
	// private addresses; nil (unset) means true in development, false in
	// production.
	AllowPrivateNetworks *bool `koanf:"allow_private_networks"`
	MaxModels            int   `koanf:"max_models"`
}

// ServerConfig is the HTTP listener and its protections.
type ServerConfig struct {
	Host              string        `koanf:"host"`
	TrustedProxies    []string      `koanf:"trusted_proxies"`
	Port              int           `koanf:"port"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	BodyLimitBytes    int64         `koanf:"body_limit_bytes"`
	// ImportBodyLimitBytes bounds POST /admin/import (exporter files are big).
	ImportBodyLimitBytes int64      `koanf:"import_body_limit_bytes"`
	DocsEnabled          bool       `koanf:"docs_enabled"`
	UIEnabled            bool       `koanf:"ui_enabled"`
	CORS                 CORSConfig `koanf:"cors"`
	TLS                  TLSConfig  `koanf:"tls"`
}

// CORSConfig controls cross-origin access.
type CORSConfig struct {
	AllowOrigins     []string `koanf:"allow_origins"`
	AllowCredentials bool     `koanf:"allow_credentials"`
}

// TLSConfig enables HTTPS when both files are set.
type TLSConfig struct {
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
}

// PostgresConfig is the database connection and pool.
type PostgresConfig struct {
	DSN             string        `koanf:"dsn"`
	MaxOpenConns    int           `koanf:"max_open_conns"`
	MaxIdleConns    int           `koanf:"max_idle_conns"`
	ConnMaxLifetime time.Duration `koanf:"conn_max_lifetime"`
	ConnMaxIdleTime time.Duration `koanf:"conn_max_idle_time"`
	AutoMigrate     bool          `koanf:"auto_migrate"`
}

// RedisConfig selects single node, Sentinel (master_name set) or Cluster
// (several addresses) through go-redis' UniversalClient.
type RedisConfig struct {
	Addr         string        `koanf:"addr"`
	MasterName   string        `koanf:"master_name"`
	Username     string        `koanf:"username"`
	Password     string        `koanf:"password"`
	DB           int           `koanf:"db"`
	KeyPrefix    string        `koanf:"key_prefix"`
	PoolSize     int           `koanf:"pool_size"`
	DialTimeout  time.Duration `koanf:"dial_timeout"`
	ReadTimeout  time.Duration `koanf:"read_timeout"`
	WriteTimeout time.Duration `koanf:"write_timeout"`
}

// Addrs splits the comma-separated address list.
func (r RedisConfig) Addrs() []string {
	var out []string
	for _, a := range strings.Split(r.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// LoggingConfig is the service's own logging (not the balancer access logs).
type LoggingConfig struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
	// FlushInterval batches `ezapi serve`'s log lines: written when 64 KiB
	// gathered and at least this often; 0 writes every line at once.
	FlushInterval time.Duration `koanf:"flush_interval"`
}

// AuthConfig holds authentication settings.
type AuthConfig struct {
	JWTSecret string `koanf:"jwt_secret"`
	// JWTSecretGenerated says development generated JWTSecret at start
	// (none was set): tokens do not survive a restart.
	JWTSecretGenerated bool          `koanf:"-"`
	JWTIssuer          string        `koanf:"jwt_issuer"`
	JWTAudience        string        `koanf:"jwt_audience"`
	JWTTTL             time.Duration `koanf:"jwt_ttl"`
	// CacheTTL is how long a resolved credential is trusted without a
	// database lookup; a revoked credential works on other replicas for at
	// most this long.
	CacheTTL time.Duration `koanf:"cache_ttl"`
	// LoginMaxFailures is per (username, client IP) pair.
	LoginMaxFailures int `koanf:"login_max_failures"`
	// LoginIPMaxFailures is per client IP, whatever the username.
	LoginIPMaxFailures int `koanf:"login_ip_max_failures"`
	// LoginUserMaxFailures is per username from every address: the
	// ceiling against distributed guessing; its lockout doubles on each
	// repeat up to LoginMaxBackoff.
	LoginUserMaxFailures int           `koanf:"login_user_max_failures"`
	LoginMaxBackoff      time.Duration `koanf:"login_max_backoff"`
	LoginWindow          time.Duration `koanf:"login_window"`
	LastUsedFlush        time.Duration `koanf:"last_used_flush_interval"`
	Argon2               Argon2Config  `koanf:"argon2"`
}

// Argon2Config are the argon2id parameters for new password hashes
// (existing hashes keep the parameters they were made with).
type Argon2Config struct {
	MemoryKiB   int `koanf:"memory_kib"`
	Iterations  int `koanf:"iterations"`
	Parallelism int `koanf:"parallelism"`
	// MaxConcurrent bounds password checks running at once (each holds
	// memory_kib); a login waiting longer than QueueTimeout for a slot
	// answers 429 with Retry-After.
	MaxConcurrent int           `koanf:"max_concurrent"`
	QueueTimeout  time.Duration `koanf:"queue_timeout"`
}

// CryptoConfig holds the keys that encrypt upstream secrets at rest: the
// current one (used for every new ciphertext) and older versions still
// accepted for decryption until `ezapi secrets rotate` has run.
type CryptoConfig struct {
	EncryptionKey string `koanf:"encryption_key"`
	KeyVersion    int    `koanf:"key_version"`
	// PreviousKeys is "version:base64key,…".
	PreviousKeys string `koanf:"previous_keys"`
}

// PrivateNetworksAllowed reports whether upstream base URLs may point at
// private addresses.
func (p ProvidersConfig) PrivateNetworksAllowed() bool {
	return p.AllowPrivateNetworks != nil && *p.AllowPrivateNetworks
}

// Development reports whether the service runs in development mode.
func (c Config) Development() bool { return c.Mode == ModeDevelopment }

// ListenAddr is host:port of the HTTP listener.
func (c Config) ListenAddr() string {
	return net.JoinHostPort(c.Server.Host, strconv.Itoa(c.Server.Port))
}

// defaults lists every setting with its default; config.example.yaml mirrors it.
func defaults() map[string]any {
	return map[string]any{
		"mode":                           ModeDevelopment,
		"server.host":                    "", // 127.0.0.1 in development, 0.0.0.0 in production
		"server.port":                    8080,
		"server.shutdown_timeout":        "30s",
		"server.read_header_timeout":     "5s",
		"server.read_timeout":            "30s",
		"server.write_timeout":           "60s",
		"server.idle_timeout":            "120s",
		"server.max_header_bytes":        32 << 10,
		"server.body_limit_bytes":        1 << 20,
		"server.import_body_limit_bytes": 256 << 20,
		"server.docs_enabled":            true,
		"server.ui_enabled":              true,
		"server.cors.allow_origins":      []string{}, // every origin in development
		"server.cors.allow_credentials":  false,
		"server.tls.cert_file":           "",
		"server.tls.key_file":            "",
		"server.trusted_proxies":         []string{},
		"metrics.enabled":                true,
		"metrics.bearer_token":           "",
		"tracing.enabled":                false,
		"tracing.endpoint":               "localhost:4318",
		"tracing.insecure":               true,
		"tracing.sample_ratio":           1.0,
		"tracing.service_name":           "ezapi",
		"ratelimit.enabled":              true,
		"ratelimit.backend":              "memory",
		"ratelimit.replicas":             1,
		"ratelimit.rules": []map[string]any{
			{"name": "per-ip", "scope": "ip", "algorithm": "sliding_window", "limit": 1200, "window": "1m"},
			{"name": "per-principal", "scope": "principal", "algorithm": "token_bucket", "limit": 50, "window": "1s", "burst": 200},
			{"name": "login", "scope": "ip", "algorithm": "sliding_window", "limit": 30, "window": "1m", "match": "/auth/login"},
			// A balancer fleet shares one service token: its own budget
			// instead of per-principal's.
			{"name": "per-balancer", "scope": "principal", "algorithm": "token_bucket", "limit": 2000, "window": "1s", "burst": 4000, "role": "balancer"},
		},
		"postgres.dsn":                     "host=127.0.0.1 port=5432 user=postgres dbname=ezapi sslmode=disable",
		"postgres.max_open_conns":          20,
		"postgres.max_idle_conns":          -1,
		"postgres.conn_max_lifetime":       "30m",
		"postgres.conn_max_idle_time":      "5m",
		"postgres.auto_migrate":            true,
		"redis.addr":                       "localhost:6379",
		"redis.master_name":                "",
		"redis.username":                   "",
		"redis.password":                   "",
		"redis.db":                         0,
		"redis.key_prefix":                 "",
		"redis.pool_size":                  20,
		"redis.dial_timeout":               "2s",
		"redis.read_timeout":               "2s",
		"redis.write_timeout":              "2s",
		"logging.level":                    "info",
		"logging.format":                   "", // text in development, json in production
		"logging.flush_interval":           "100ms",
		"auth.jwt_secret":                  "", // development: random per start
		"auth.jwt_issuer":                  "ezapi",
		"auth.jwt_audience":                "ezapi-api",
		"auth.jwt_ttl":                     "1h",
		"auth.cache_ttl":                   "1s",
		"auth.login_max_failures":          5,
		"auth.login_ip_max_failures":       20,
		"auth.login_user_max_failures":     100,
		"auth.login_max_backoff":           "15m",
		"auth.login_window":                "1m",
		"auth.last_used_flush_interval":    "10s",
		"auth.argon2.memory_kib":           19456,
		"auth.argon2.iterations":           2,
		"auth.argon2.parallelism":          1,
		"auth.argon2.max_concurrent":       4,
		"auth.argon2.queue_timeout":        "1s",
		"crypto.encryption_key":            "",
		"crypto.key_version":               1,
		"crypto.previous_keys":             "",
		"providers.allow_private_networks": nil, // unset: true in development, false in production
		"providers.max_models":             1000,
		"keys.max_rpm":                     100000,
		"keys.max_tpm":                     100000000,
		"keys.max_grace_seconds":           604800,
		"sync.poll_interval":               "250ms",
		"sync.reconcile_interval":          "30s",
		"sync.retry_max":                   "5s",
		"sync.resync_timeout":              "30s",
		"sync.degraded_after":              "30s",
		"sync.balancer_expiry":             "1h",
		"sync.binding_resolve_budget":      "200ms",
		"sync.chunk_size":                  5000,
		"log.queue_capacity":               10000,
		"log.batch_size":                   1000,
		"log.flush_ms":                     50,
		"log.writers":                      2,
		"log.max_batch":                    1000,
		"log.max_body_bytes":               16 << 20,
		"log.ack":                          "committed",
		"log.commit_timeout":               "10s",
		"log.retry_max":                    "5s",
		"log.retention_days":               30,
		"log.partitions_ahead":             7,
		"log.max_query_days":               31,
		"log.max_clock_skew":               "5m",
		"log.stall_timeout":                "1m",
		"log.max_write_attempts":           5,
	}
}

// seedEnv maps the original control plane's variable names to settings.
var seedEnv = map[string]string{
	"EZ_MODE":           "mode",
	"EZ_API_PORT":       "server.port",
	"EZ_PG_DSN":         "postgres.dsn",
	"EZ_REDIS_ADDR":     "redis.addr",
	"EZ_LOG_LEVEL":      "logging.level",
	"EZ_LOG_QUEUE":      "log.queue_capacity",
	"EZ_LOG_BATCH_SIZE": "log.batch_size",
	"EZ_JWT_SECRET":     "auth.jwt_secret",
	"EZ_ENCRYPTION_KEY": "crypto.encryption_key",
}

// envName tells which variable sets a key, for error messages.
func envName(key string) string {
	for env, k := range seedEnv {
		if k == key {
			return env
		}
	}
	return "EZ_" + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// envKey maps an environment variable to a setting: the seed names, or
// EZ_SECTION__KEY for every other setting. Other EZ_ variables are ignored.
func envKey(name string) string {
	if k, ok := seedEnv[name]; ok {
		return k
	}
	rest, ok := strings.CutPrefix(name, "EZ_")
	if !ok || !strings.Contains(rest, "__") {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(rest, "__", "."))
}

// nonSettingEnv are EZ_ variables read by something other than the
// configuration.
var nonSettingEnv = map[string]bool{
	"EZ_CONFIG_FILE": true, "EZ_BOOTSTRAP_USERNAME": true, "EZ_BOOTSTRAP_PASSWORD": true,
}

// unknownEnvWarnings names each EZ_ variable that sets nothing (other
// spellings such as EZ_SERVER_PORT are otherwise silently ignored) with the
// closest variable that does.
func unknownEnvWarnings(environ []string) []string {
	var known []string
	for env := range seedEnv {
		known = append(known, env)
	}
	for key := range defaults() {
		known = append(known, "EZ_"+strings.ToUpper(strings.ReplaceAll(key, ".", "__")))
	}
	known = append(known, "EZ_CONFIG_FILE", "EZ_BOOTSTRAP_USERNAME", "EZ_BOOTSTRAP_PASSWORD")
	sort.Strings(known)
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "EZ_") || nonSettingEnv[name] || strings.HasPrefix(name, "EZ_TEST_") ||
			name == "EZ_COVERAGE_DIR" || envKey(name) != "" {
			continue
		}
		best, bestD := "", -1
		for _, k := range known {
			if d := levenshtein(name, k); bestD < 0 || d < bestD {
				best, bestD = k, d
			}
		}
		hint := best
		if k := envKey(best); k != "" {
			hint += " (" + k + ")"
		}
		out = append(out, fmt.Sprintf("environment variable %s sets nothing; did you mean %s?", name, hint))
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ConfigError is a configuration problem; the CLI prints it as one line and
// exits with status 2.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return "invalid configuration: " + e.Msg }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// ConfigFile returns the file to read: EZ_CONFIG_FILE, else ./config.yaml,
// else ./config/config.yaml, else none.
func ConfigFile(getenv func(string) string) (string, error) {
	if f := getenv("EZ_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); err != nil {
			return "", configErrorf("EZ_CONFIG_FILE %q: %v", f, errors.Unwrap(err))
		}
		return f, nil
	}
	for _, f := range []string{"config.yaml", "config/config.yaml"} {
		if _, err := os.Stat(f); err == nil {
			return f, nil
		}
	}
	return "", nil
}

// LoadConfig reads defaults, then the file, then the environment, and
// validates the result.
func LoadConfig(environ []string) (Config, error) {
	getenv := func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults(), "."), nil); err != nil {
		return Config{}, fmt.Errorf("load defaults: %w", err)
	}
	path, err := ConfigFile(getenv)
	if err != nil {
		return Config{}, err
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, configErrorf("config file %s: %s", path, strings.Join(strings.Fields(err.Error()), " "))
		}
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix:      "EZ_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key := envKey(name)
			if key == "" {
				return "", nil
			}
			if k.Exists(key) {
				if _, isList := k.Get(key).([]any); isList || strings.HasSuffix(key, "allow_origins") {
					return key, splitList(value)
				}
			}
			return key, value
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return Config{}, fmt.Errorf("load environment: %w", err)
	}

	var cfg Config
	if err := unmarshalStrict(k, &cfg); err != nil {
		return Config{}, err
	}
	cfg.Warnings = unknownEnvWarnings(environ)
	applyModeDefaults(&cfg)
	return cfg, cfg.Validate()
}

func splitList(v string) []string {
	out := []string{}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// unmarshalStrict decodes every key into cfg, failing on unknown keys and on
// values of the wrong type with a message that names the setting.
func unmarshalStrict(k *koanf.Koanf, cfg *Config) error {
	hook := mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)
	err := k.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook:       hook,
			Result:           cfg,
			WeaklyTypedInput: true,
			ErrorUnused:      true,
			TagName:          "koanf",
		},
	})
	if err == nil {
		return nil
	}
	// Find the first key whose value does not decode on its own.
	for _, key := range k.Keys() {
		if ferr := checkKey(key, k.Get(key)); ferr != nil {
			return ferr
		}
	}
	return configErrorf("%s", firstLine(err.Error()))
}

// checkKey explains why one setting's value does not fit its field.
func checkKey(key string, val any) error {
	f, ok := fieldByKey(reflect.TypeOf(Config{}), strings.Split(key, "."))
	if !ok {
		return configErrorf("unknown setting %q", key)
	}
	s := fmt.Sprint(val)
	switch {
	case f == reflect.TypeOf(time.Duration(0)):
		if _, isStr := val.(string); isStr {
			if _, err := time.ParseDuration(s); err != nil {
				return configErrorf("%s (%s): %q is not a duration (use e.g. 30s, 5m)", key, envName(key), s)
			}
		}
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		if _, isStr := val.(string); isStr {
			if _, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
				return configErrorf("%s (%s): %q is not an integer", key, envName(key), s)
			}
		}
	case f.Kind() == reflect.Bool:
		if _, isStr := val.(string); isStr {
			if _, err := strconv.ParseBool(s); err != nil {
				return configErrorf("%s (%s): %q is not a boolean", key, envName(key), s)
			}
		}
	}
	return nil
}

func fieldByKey(t reflect.Type, path []string) (reflect.Type, bool) {
	for _, p := range path {
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		found := false
		for i := range t.NumField() {
			if t.Field(i).Tag.Get("koanf") == p {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return t, true
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*")); l != "" &&
			!strings.HasSuffix(l, "error(s) decoding:") && !strings.HasSuffix(l, "error(s):") {
			return l
		}
	}
	return s
}

// minSecretEntropyBits is the least estimated entropy production accepts
// for auth.jwt_secret: 32 random base64 characters carry about 190 bits,
// 32 spaces or "aaaa…" none.
const minSecretEntropyBits = 128

// secretEntropyBits estimates a secret's entropy from its character
// frequencies (Shannon entropy per character times its length): it catches
// repeated and few-symbol secrets, not every weak one.
func secretEntropyBits(s string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	perChar := 0.0
	for _, k := range counts {
		p := float64(k) / float64(n)
		perChar -= p * math.Log2(p)
	}
	return perChar * float64(n)
}

// loopbackHost reports whether the listen host only accepts local
// connections.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// randomJWTSecret is development's per-start secret when none is set.
func randomJWTSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawStdEncoding.EncodeToString(b)
}

func applyModeDefaults(c *Config) {
	if c.Auth.JWTSecret == "" && c.Mode == ModeDevelopment {
		c.Auth.JWTSecret = randomJWTSecret()
		c.Auth.JWTSecretGenerated = true
	}
	if c.Server.Host == "" {
		c.Server.Host = "127.0.0.1"
		if c.Mode == ModeProduction {
			c.Server.Host = "0.0.0.0"
		}
	}
	if c.Logging.Format == "" {
		c.Logging.Format = "text"
		if c.Mode == ModeProduction {
			c.Logging.Format = "json"
		}
	}
	if c.Providers.AllowPrivateNetworks == nil {
		// Local model servers are common in development.
		allow := c.Mode == ModeDevelopment
		c.Providers.AllowPrivateNetworks = &allow
	}
	if len(c.Server.CORS.AllowOrigins) == 0 && c.Mode == ModeDevelopment {
		c.Server.CORS.AllowOrigins = []string{"*"}
	}
}

// configErrors collects every configuration problem, so one start reports
// all of them.
type configErrors struct{ msgs []string }

func (v *configErrors) addf(format string, args ...any) {
	v.msgs = append(v.msgs, fmt.Sprintf(format, args...))
}

func (v *configErrors) err() error {
	if len(v.msgs) == 0 {
		return nil
	}
	return &ConfigError{Msg: strings.Join(v.msgs, "; ")}
}

// Validate checks values and the production rules; the error names every
// offending setting at once.
func (c Config) Validate() error {
	v := &configErrors{}
	switch c.Mode {
	case ModeDevelopment, ModeProduction:
	default:
		v.addf("mode (EZ_MODE): %q is not one of development, production", c.Mode)
	}
	if c.Server.Port < 0 || c.Server.Port > 65535 {
		v.addf("server.port (EZ_API_PORT): %d is outside 0..65535", c.Server.Port)
	}
	for key, d := range map[string]time.Duration{
		"server.shutdown_timeout":       c.Server.ShutdownTimeout,
		"server.read_header_timeout":    c.Server.ReadHeaderTimeout,
		"server.read_timeout":           c.Server.ReadTimeout,
		"server.write_timeout":          c.Server.WriteTimeout,
		"server.idle_timeout":           c.Server.IdleTimeout,
		"redis.dial_timeout":            c.Redis.DialTimeout,
		"auth.jwt_ttl":                  c.Auth.JWTTTL,
		"auth.login_window":             c.Auth.LoginWindow,
		"auth.last_used_flush_interval": c.Auth.LastUsedFlush,
		"redis.read_timeout":            c.Redis.ReadTimeout,
		"redis.write_timeout":           c.Redis.WriteTimeout,
		"sync.balancer_expiry":          c.Sync.BalancerExpiry,
	} {
		if d <= 0 {
			v.addf("%s (%s): must be a positive duration", key, envName(key))
		}
	}
	if b := c.Sync.BindingResolveBudget; b < time.Millisecond || b > time.Minute {
		v.addf("sync.binding_resolve_budget (%s): %s is outside 1ms..1m", envName("sync.binding_resolve_budget"), b)
	}
	if c.Server.MaxHeaderBytes < 1024 {
		v.addf("server.max_header_bytes: %d is below 1024", c.Server.MaxHeaderBytes)
	}
	if c.Server.BodyLimitBytes < 1024 {
		v.addf("server.body_limit_bytes: %d is below 1024", c.Server.BodyLimitBytes)
	}
	if c.Server.ImportBodyLimitBytes < 1024 {
		return configErrorf("server.import_body_limit_bytes: %d is below 1024", c.Server.ImportBodyLimitBytes)
	}
	if (c.Server.TLS.CertFile == "") != (c.Server.TLS.KeyFile == "") {
		v.addf("server.tls: cert_file and key_file must be set together")
	}
	if c.Server.CORS.AllowCredentials {
		for _, o := range c.Server.CORS.AllowOrigins {
			if o == "*" {
				v.addf("server.cors: allow_credentials cannot be combined with the origin \"*\"")
			}
		}
	}
	if c.Postgres.DSN == "" {
		v.addf("postgres.dsn (EZ_PG_DSN): must be set")
	}
	if c.Postgres.MaxOpenConns < 1 || c.Postgres.MaxIdleConns < -1 {
		v.addf("postgres.max_open_conns must be ≥ 1 and postgres.max_idle_conns ≥ -1 (-1: as many as max_open_conns)")
	}
	if len(c.Redis.Addrs()) == 0 {
		v.addf("redis.addr (EZ_REDIS_ADDR): must be set")
	}
	if c.Redis.DB < 0 {
		v.addf("redis.db: %d is negative", c.Redis.DB)
	}
	if err := new(slog.Level).UnmarshalText([]byte(c.Logging.Level)); err != nil {
		v.addf("logging.level (EZ_LOG_LEVEL): %q is not one of debug, info, warn, error", c.Logging.Level)
	}
	if f := c.Logging.FlushInterval; f < 0 || f > 10*time.Second {
		v.addf("logging.flush_interval: %s is outside 0..10s (0 writes every line at once)", f)
	}
	if c.Logging.Format != "text" && c.Logging.Format != "json" {
		v.addf("logging.format: %q is not one of text, json", c.Logging.Format)
	}
	if c.Auth.CacheTTL < 0 || c.Auth.CacheTTL > time.Minute {
		v.addf("auth.cache_ttl: %s is outside 0..1m", c.Auth.CacheTTL)
	}
	if c.Auth.LoginMaxFailures < 1 || c.Auth.LoginIPMaxFailures < c.Auth.LoginMaxFailures || c.Auth.LoginUserMaxFailures < c.Auth.LoginMaxFailures {
		v.addf("auth.login_max_failures must be at least 1, auth.login_ip_max_failures and auth.login_user_max_failures at least auth.login_max_failures")
	}
	if c.Auth.LoginMaxBackoff < c.Auth.LoginWindow {
		v.addf("auth.login_max_backoff: %s is shorter than auth.login_window", c.Auth.LoginMaxBackoff)
	}
	if c.Auth.Argon2.MaxConcurrent < 1 || c.Auth.Argon2.QueueTimeout <= 0 {
		v.addf("auth.argon2: max_concurrent must be ≥ 1 and queue_timeout positive")
	}
	if c.Auth.JWTIssuer == "" || c.Auth.JWTAudience == "" {
		v.addf("auth.jwt_issuer and auth.jwt_audience must be set")
	}
	if a := c.Auth.Argon2; a.MemoryKiB < 1024 || a.MemoryKiB > 1<<22 || a.Iterations < 1 || a.Iterations > 100 || a.Parallelism < 1 || a.Parallelism > 255 {
		v.addf("auth.argon2: memory_kib must be 1024..4194304, iterations 1..100, parallelism 1..255")
	}
	if c.Providers.MaxModels < 1 || c.Providers.MaxModels > 10000 {
		v.addf("providers.max_models: %d is outside 1..10000", c.Providers.MaxModels)
	}
	if c.Keys.MaxRPM < 1 || c.Keys.MaxTPM < 1 || c.Keys.MaxGraceSeconds < 0 {
		v.addf("keys: max_rpm and max_tpm must be ≥ 1, max_grace_seconds ≥ 0")
	}
	if l := c.Log; l.QueueCapacity < 1 || l.BatchSize < 1 || l.FlushMS < 1 || l.Writers < 1 || l.MaxBatch < 1 ||
		l.MaxBodyBytes < 1024 || l.RetentionDays < 1 || l.PartitionsAhead < 1 || l.MaxQueryDays < 1 {
		v.addf("log: queue_capacity (EZ_LOG_QUEUE), batch_size (EZ_LOG_BATCH_SIZE), flush_ms, writers, max_batch, retention_days, partitions_ahead and max_query_days must be ≥ 1, max_body_bytes ≥ 1024")
	}
	if c.Log.MaxBatch > c.Log.QueueCapacity {
		v.addf("log.max_batch (%d) cannot exceed log.queue_capacity (EZ_LOG_QUEUE, %d)", c.Log.MaxBatch, c.Log.QueueCapacity)
	}
	if c.Log.MaxClockSkew < 0 || c.Log.MaxClockSkew > 24*time.Hour {
		return configErrorf("log.max_clock_skew: %s is outside 0..24h", c.Log.MaxClockSkew)
	}
	if c.Log.StallTimeout < time.Second {
		return configErrorf("log.stall_timeout: %s is shorter than 1s", c.Log.StallTimeout)
	}
	if c.Sync.ChunkSize < 1 || c.Sync.ChunkSize > 100000 {
		return configErrorf("sync.chunk_size: %d is outside 1..100000", c.Sync.ChunkSize)
	}
	if c.Log.MaxWriteAttempts < 1 || c.Log.MaxWriteAttempts > 1000 {
		return configErrorf("log.max_write_attempts: %d is outside 1..1000", c.Log.MaxWriteAttempts)
	}
	if c.Log.Ack != "committed" && c.Log.Ack != "queued" {
		v.addf("log.ack: %q is not one of committed, queued", c.Log.Ack)
	}
	for _, cidr := range c.Server.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			v.addf("server.trusted_proxies: %q is not a CIDR", cidr)
		}
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		v.addf("tracing.sample_ratio: %v is outside 0..1", c.Tracing.SampleRatio)
	}
	if c.RateLimit.Backend != "memory" && c.RateLimit.Backend != "redis" {
		v.addf("ratelimit.backend: %q is not one of memory, redis", c.RateLimit.Backend)
	}
	if c.RateLimit.Replicas < 1 {
		v.addf("ratelimit.replicas: must be ≥ 1")
	}
	for i, r := range c.RateLimit.Rules {
		switch {
		case r.Name == "":
			v.addf("ratelimit.rules[%d]: name is required", i)
		case r.Scope != "ip" && r.Scope != "principal" && r.Scope != "endpoint":
			v.addf("ratelimit.rules[%d] (%s): scope %q is not one of ip, principal, endpoint", i, r.Name, r.Scope)
		case r.Algorithm != "token_bucket" && r.Algorithm != "sliding_window":
			v.addf("ratelimit.rules[%d] (%s): algorithm %q is not one of token_bucket, sliding_window", i, r.Name, r.Algorithm)
		case r.Limit < 1 || r.Window <= 0:
			v.addf("ratelimit.rules[%d] (%s): limit must be ≥ 1 and window positive", i, r.Name)
		case r.Role != "" && !slices.Contains([]string{"admin", "developer", "viewer", "user", "balancer"}, r.Role):
			v.addf("ratelimit.rules[%d] (%s): role %q is not one of admin, developer, viewer, user, balancer", i, r.Name, r.Role)
		case r.Role != "" && r.Scope != "principal":
			v.addf("ratelimit.rules[%d] (%s): role needs scope principal", i, r.Name)
		}
	}
	if c.Crypto.KeyVersion < 1 {
		v.addf("crypto.key_version: must be ≥ 1")
	}
	if c.Crypto.EncryptionKey != "" {
		if key, err := base64.StdEncoding.DecodeString(c.Crypto.EncryptionKey); err != nil || len(key) != 32 {
			v.addf("crypto.encryption_key (EZ_ENCRYPTION_KEY): must be 32 bytes, base64-encoded (openssl rand -base64 32)")
		}
	}
	if c.Auth.JWTSecret == ExampleJWTSecret && !loopbackHost(c.Server.Host) {
		// Anyone can sign an admin token with the published example.
		v.addf("auth.jwt_secret (EZ_JWT_SECRET): the example secret is refused when listening on %s, a non-loopback address", c.Server.Host)
	}
	if c.Mode == ModeProduction {
		switch {
		case c.Auth.JWTSecret == ExampleJWTSecret || len(c.Auth.JWTSecret) < 32:
			v.addf("auth.jwt_secret (EZ_JWT_SECRET): production mode needs a secret of at least 32 characters, not the example one")
		case secretEntropyBits(c.Auth.JWTSecret) < minSecretEntropyBits:
			v.addf("auth.jwt_secret (EZ_JWT_SECRET): too predictable (repeated or few distinct characters); use e.g. openssl rand -base64 48")
		}
		if c.Crypto.EncryptionKey == "" {
			v.addf("crypto.encryption_key (EZ_ENCRYPTION_KEY): production mode needs an encryption key")
		}
	}
	return v.err()
}
