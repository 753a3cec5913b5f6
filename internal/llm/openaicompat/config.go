package openaicompat

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAPIKeyEnv      = "OPENAI_API_KEY"
	DefaultConcurrency    = 8
	DefaultMaxRetries     = 3
	DefaultTimeout        = 10 * time.Minute
	DefaultEmbedBatchSize = 64
	OpenAIBaseURL         = "https://api.openai.com/v1"
)

// Config configures a Client. The API key is deliberately not a field: it is read from the
// environment variable named by APIKeyEnv, so that a Config can be printed or logged safely.
type Config struct {
	// Ref is the model reference the config was parsed from; Info().Ref reports it. Optional.
	Ref string
	// BaseURL is the API root including the version, e.g. http://host:8000/v1.
	BaseURL string
	// Model is the served model name sent in every request.
	Model string
	// APIKeyEnv names the environment variable holding the API key (default OPENAI_API_KEY). An
	// unset or empty variable means no Authorization header, which is what a local vLLM expects.
	APIKeyEnv string
	// RequireAPIKey makes New fail when the key variable is unset or empty (set for openai: refs).
	RequireAPIKey bool
	// Chat selects /v1/chat/completions for generation instead of /v1/completions.
	Chat bool
	// SystemPrompt is sent as a hidden system message before every chat prompt (chat only).
	SystemPrompt string
	// SystemPromptFile is read by New into SystemPrompt (surrounding white space trimmed, as for
	// gguf: references); set at most one of the two.
	SystemPromptFile string
	// Concurrency bounds the number of requests in flight across all calls on the client
	// (default 8).
	Concurrency int
	// RequestsPerSecond limits the request rate (0: unlimited).
	RequestsPerSecond float64
	// MaxRetries is the number of retries after a 408, 409, 429 or 5xx answer or a connection
	// error, with exponential backoff that honours Retry-After / Retry-After-Ms (seconds or HTTP
	// date). 0 means the default (3); negative means no retries.
	MaxRetries int
	// MaxRetryDelay caps the exponential backoff (openai-go's default: 8 s) and the longest
	// Retry-After the client will wait for (default 2 min); a server asking for a longer wait gets
	// its error returned instead. 0 keeps the defaults.
	MaxRetryDelay time.Duration
	// Timeout bounds each HTTP attempt (default 10 min; negative: none). A timed-out attempt is
	// not retried.
	Timeout time.Duration
	// EmbedBatchSize is the number of texts per /v1/embeddings request (default 64).
	EmbedBatchSize int
	// NoLogprobs stops Generate from asking for output-token log-probabilities (for servers
	// that reject the logprobs field).
	NoLogprobs bool
	// HTTPClient overrides the HTTP client (tests); its Timeout should be zero.
	HTTPClient *http.Client
}

// String describes the config without secrets (there are none in it, but keep it that way).
func (c Config) String() string {
	api := "completions"
	if c.Chat {
		api = "chat"
	}
	return fmt.Sprintf("openaicompat.Config{BaseURL: %s, Model: %s, API: %s, KeyEnv: %s}", c.BaseURL, c.Model, api, c.APIKeyEnv)
}

// refOptions lists the query options ParseRef understands.
var refOptions = []string{"chat", "system", "key_env", "concurrency", "rps", "retries", "max_retry_delay", "timeout", "embed_batch", "logprobs"}

// ParseRef parses a model reference:
//
//	openai-compat:http://host:8000/v1#model-name?chat=1&system=FILE
//	openai:gpt-4o-mini?system=FILE
//
// openai: refs use https://api.openai.com/v1, default to the chat API (chat=0 selects the legacy
// completions API) and require an API key. Options after '?': chat=0|1, system=FILE (hidden
// system prompt, chat only), key_env=NAME (environment variable with the API key), concurrency=N,
// rps=R (requests per second), retries=N (negative: none), max_retry_delay=DURATION,
// timeout=DURATION (per request), embed_batch=N, logprobs=0 (do not ask for output
// log-probabilities).
func ParseRef(ref string) (Config, error) {
	var cfg Config
	cfg.Ref = ref
	var rest, query string
	switch {
	case strings.HasPrefix(ref, "openai-compat:"):
		body := strings.TrimPrefix(ref, "openai-compat:")
		base, modelPart, ok := strings.Cut(body, "#")
		if !ok {
			return Config{}, fmt.Errorf("model reference %q: missing #model-name after the server URL (form: openai-compat:http://host:8000/v1#model-name)", ref)
		}
		u, err := url.Parse(base)
		if err != nil {
			return Config{}, fmt.Errorf("model reference %q: bad server URL: %v", ref, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return Config{}, fmt.Errorf("model reference %q: server URL must start with http:// or https://", ref)
		}
		if u.Host == "" {
			return Config{}, fmt.Errorf("model reference %q: server URL has no host", ref)
		}
		if u.RawQuery != "" || u.User != nil {
			return Config{}, fmt.Errorf("model reference %q: server URL must not carry a query or credentials; put options after the model name and the key in an environment variable", ref)
		}
		cfg.BaseURL = strings.TrimRight(base, "/")
		rest = modelPart
	case strings.HasPrefix(ref, "openai:"):
		cfg.BaseURL = OpenAIBaseURL
		cfg.Chat = true
		cfg.RequireAPIKey = true
		rest = strings.TrimPrefix(ref, "openai:")
	default:
		return Config{}, fmt.Errorf("model reference %q: not an OpenAI-compatible reference (want openai-compat:URL#model or openai:model)", ref)
	}
	cfg.Model, query, _ = strings.Cut(rest, "?")
	if cfg.Model == "" {
		return Config{}, fmt.Errorf("model reference %q: empty model name", ref)
	}
	if query == "" {
		return cfg, nil
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, fmt.Errorf("model reference %q: bad options %q: %v", ref, query, err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := vals[k]
		if len(vs) != 1 {
			return Config{}, fmt.Errorf("model reference %q: option %s given %d times", ref, k, len(vs))
		}
		v := vs[0]
		bad := func(want string) error {
			return fmt.Errorf("model reference %q: option %s=%q: want %s", ref, k, v, want)
		}
		switch k {
		case "chat":
			b, err := parseBool(v)
			if err != nil {
				return Config{}, bad("0 or 1")
			}
			cfg.Chat = b
		case "logprobs":
			b, err := parseBool(v)
			if err != nil {
				return Config{}, bad("0 or 1")
			}
			cfg.NoLogprobs = !b
		case "system":
			if v == "" {
				return Config{}, bad("a file name")
			}
			cfg.SystemPromptFile = v
		case "key_env":
			if v == "" || strings.ContainsAny(v, "= \t") {
				return Config{}, bad("an environment variable name")
			}
			cfg.APIKeyEnv = v
		case "concurrency", "embed_batch":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Config{}, bad("a positive integer")
			}
			if k == "concurrency" {
				cfg.Concurrency = n
			} else {
				cfg.EmbedBatchSize = n
			}
		case "retries":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Config{}, bad("an integer (negative: no retries)")
			}
			if n == 0 {
				n = -1 // an explicit 0 means none; the Config zero value means the default
			}
			cfg.MaxRetries = n
		case "rps":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r != r {
				return Config{}, bad("a non-negative number of requests per second")
			}
			cfg.RequestsPerSecond = r
		case "timeout", "max_retry_delay":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Config{}, bad("a positive duration such as 30s or 5m")
			}
			if k == "timeout" {
				cfg.Timeout = d
			} else {
				cfg.MaxRetryDelay = d
			}
		default:
			return Config{}, fmt.Errorf("model reference %q: unknown option %q (known: %s)", ref, k, strings.Join(refOptions, ", "))
		}
	}
	if !cfg.Chat && cfg.SystemPromptFile != "" {
		return Config{}, fmt.Errorf("model reference %q: system= needs the chat API (add chat=1)", ref)
	}
	return cfg, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}
