package assistant

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/mbd-dev/mbd/internal/endpoint"
)

// Schemes lists the assistant references Open understands.
const Schemes = "openai:MODEL, openai-compat:URL#MODEL, anthropic:MODEL, gemini:MODEL, gguf:PATH[?threads=N&ctx=N]"

// Open makes a Client for the assistant a reference names:
//
//	openai:MODEL              OpenAI; key from OPENAI_API_KEY
//	openai-compat:URL#MODEL   any OpenAI-compatible server (URL ends in /v1); key, if any, from OPENAI_API_KEY
//	anthropic:MODEL           Anthropic; key from ANTHROPIC_API_KEY
//	gemini:MODEL              Google Gemini API; key from GEMINI_API_KEY or GOOGLE_API_KEY
//	gguf:PATH[?threads=N&ctx=N]  a local GGUF instruct model, in-process
//
// OPENAI_BASE_URL, ANTHROPIC_BASE_URL and GEMINI_BASE_URL replace the providers' base URLs (for
// proxies and test servers). The offline "builtin" assistant is not a chat model: callers handle
// it before calling Open.
func Open(ref string, o Options) (*Client, error) {
	p, err := openProvider(ref)
	if err != nil {
		return nil, err
	}
	c, err := New(p, o)
	if err != nil {
		if lp, ok := p.(*localProvider); ok {
			lp.Close()
		}
		return nil, err
	}
	return c, nil
}

func openProvider(ref string) (Provider, error) {
	scheme, rest, _ := strings.Cut(ref, ":")
	if knownScheme(scheme) && rest == "" {
		return nil, fmt.Errorf("assistant %q: nothing after %q (want %s)", ref, scheme+":", Schemes)
	}
	switch scheme {
	case "openai":
		key, base, err := hostedAPI(ref, "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1")
		if err != nil {
			return nil, err
		}
		return newOpenAI("openai", "openai:"+rest, base, rest, key, true), nil
	case "openai-compat":
		// Errors here do not quote the reference: a wrong one may carry a secret in its URL.
		base, model, ok := strings.Cut(rest, "#")
		if !ok || model == "" {
			return nil, fmt.Errorf("assistant openai-compat: want openai-compat:URL#MODEL, e.g. openai-compat:http://localhost:8000/v1#qwen")
		}
		if err := checkURL(base); err != nil {
			return nil, fmt.Errorf("assistant openai-compat: %w", err)
		}
		base = strings.TrimRight(base, "/")
		key := os.Getenv("OPENAI_API_KEY")
		if err := endpoint.CheckKey(base, "OPENAI_API_KEY", key != ""); err != nil {
			return nil, fmt.Errorf("assistant openai-compat: %w", err)
		}
		return newOpenAI("openai-compat", "openai-compat:"+base+"#"+model, base, model, key, false), nil
	case "anthropic":
		key, base, err := hostedAPI(ref, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com")
		if err != nil {
			return nil, err
		}
		return newAnthropic("anthropic:"+rest, base, rest, key), nil
	case "gemini":
		key := os.Getenv("GEMINI_API_KEY")
		if key == "" {
			key = os.Getenv("GOOGLE_API_KEY")
		}
		if key == "" {
			return nil, fmt.Errorf("assistant %q: set GEMINI_API_KEY (or GOOGLE_API_KEY) to the API key", ref)
		}
		base, err := baseURL(ref, "GEMINI_BASE_URL", "")
		if err != nil {
			return nil, err
		}
		if err := endpoint.CheckKey(base, "GEMINI_API_KEY", base != ""); err != nil {
			return nil, fmt.Errorf("assistant %q: %w", ref, err)
		}
		return newGemini("gemini:"+rest, base, rest, key)
	case "gguf":
		return openLocal(ref, rest)
	}
	return nil, fmt.Errorf("assistant %q: unknown kind (want %s, or builtin for the offline assistant)", ref, Schemes)
}

func knownScheme(s string) bool {
	switch s {
	case "openai", "openai-compat", "anthropic", "gemini", "gguf":
		return true
	}
	return false
}

// hostedAPI reads the key of a hosted API from keyEnv (required) and its base URL from baseEnv
// (default def), and checks that the key may be sent there.
func hostedAPI(ref, keyEnv, baseEnv, def string) (key, base string, err error) {
	key = os.Getenv(keyEnv)
	if key == "" {
		return "", "", fmt.Errorf("assistant %q: set %s to the API key", ref, keyEnv)
	}
	if base, err = baseURL(ref, baseEnv, def); err != nil {
		return "", "", err
	}
	if err := endpoint.CheckKey(base, keyEnv, true); err != nil {
		return "", "", fmt.Errorf("assistant %q: %w", ref, err)
	}
	return key, base, nil
}

// baseURL is the URL in the environment variable env, or def.
func baseURL(ref, env, def string) (string, error) {
	v := os.Getenv(env)
	if v == "" {
		return def, nil
	}
	if err := checkURL(v); err != nil {
		return "", fmt.Errorf("assistant %q: %s: %w", ref, env, err)
	}
	return v, nil
}

// checkURL accepts http(s) URLs without credentials or a query (keys go in environment
// variables, never in a URL: the URL ends up in the model reference and the cache key).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the base URL is not an http(s) URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("the URL must not carry credentials or a query; put the API key in an environment variable")
	}
	return nil
}
