package embed

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/llm"
)

// Parse builds the embedder a reference names:
//
//	builtin:lsa[?dim=64&ngram=2&min_df=2&max_df=1&seed=1]
//	gguf:PATH[?prefix=TEXT&chunk=N&<model options>]
//	openai-compat:URL#MODEL[?prefix=TEXT&chunk=N&<model options>]
//	openai:MODEL[?prefix=TEXT&chunk=N&<model options>]
//
// For model references, prefix= (query-escaped; "+" is a space) is put before every text and
// chunk= is the number of texts per model call; both are removed and the rest of the reference is
// opened with models (normally backends.Open), which checks its own options.
func Parse(ref string, models func(ref string) (llm.Model, error)) (Embedder, error) {
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return nil, fmt.Errorf("embedder %q: want builtin:lsa, gguf:PATH, openai-compat:URL#MODEL or openai:MODEL", ref)
	}
	switch scheme {
	case "builtin":
		name, query, _ := strings.Cut(rest, "?")
		if name != "lsa" {
			return nil, fmt.Errorf("embedder %q: unknown builtin %q (want builtin:lsa)", ref, name)
		}
		o, err := parseLSA(query)
		if err != nil {
			return nil, fmt.Errorf("embedder %q: %w", ref, err)
		}
		return NewLSA(o)
	case "gguf", "openai-compat", "openai":
		if models == nil {
			return nil, fmt.Errorf("embedder %q: no way to open models here", ref)
		}
		modelRef, prefix, batch, err := splitModelRef(ref)
		if err != nil {
			return nil, fmt.Errorf("embedder %q: %w", ref, err)
		}
		m, err := models(modelRef)
		if err != nil {
			return nil, err
		}
		return NewModel(m, modelRef, prefix, batch), nil
	}
	return nil, fmt.Errorf("embedder %q: unknown scheme %q (want builtin, gguf, openai-compat or openai)", ref, scheme)
}

func parseLSA(query string) (LSAOptions, error) {
	o := DefaultLSAOptions()
	q, err := url.ParseQuery(query)
	if err != nil {
		return o, fmt.Errorf("options: %w", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return o, fmt.Errorf("option %s given %d times", k, len(vs))
		}
		v := vs[0]
		var err error
		switch k {
		case "dim":
			o.Dim, err = strconv.Atoi(v)
		case "ngram":
			o.NGram, err = strconv.Atoi(v)
		case "min_df":
			o.MinDF, err = strconv.Atoi(v)
		case "max_df":
			o.MaxDF, err = strconv.ParseFloat(v, 64)
		case "seed":
			o.Seed, err = strconv.ParseUint(v, 10, 64)
		default:
			return o, fmt.Errorf("unknown option %q (want dim, ngram, min_df, max_df, seed)", k)
		}
		if err != nil {
			return o, fmt.Errorf("option %s=%q: not a number", k, v)
		}
	}
	return o, o.validate()
}

// ModelRef is the model reference inside a model-backed embedder reference (gguf:, openai-compat:,
// openai:), without the embedder's own options prefix= and chunk=; "" for builtin embedders and
// references that do not parse.
func ModelRef(ref string) string {
	scheme, _, _ := strings.Cut(ref, ":")
	if scheme != "gguf" && scheme != "openai-compat" && scheme != "openai" {
		return ""
	}
	modelRef, _, _, err := splitModelRef(ref)
	if err != nil {
		return ""
	}
	return modelRef
}

// splitModelRef removes prefix= and chunk= from a model reference's options.
func splitModelRef(ref string) (modelRef, prefix string, batch int, err error) {
	q := optionsStart(ref)
	if q < 0 {
		return ref, "", 0, nil
	}
	base, query := ref[:q], ref[q+1:]
	var kept []string
	seen := map[string]bool{}
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(rawKey)
		val, err2 := url.QueryUnescape(rawVal)
		if err1 != nil || err2 != nil {
			return "", "", 0, fmt.Errorf("bad option %q", part)
		}
		switch key {
		case "prefix", "chunk":
			if seen[key] {
				return "", "", 0, fmt.Errorf("option %s given twice", key)
			}
			seen[key] = true
			if key == "prefix" {
				prefix = val
			} else if batch, err = strconv.Atoi(val); err != nil || batch < 1 {
				return "", "", 0, fmt.Errorf("option chunk=%q: want a positive integer", val)
			}
		default:
			kept = append(kept, part)
		}
	}
	modelRef = base
	if len(kept) > 0 {
		modelRef += "?" + strings.Join(kept, "&")
	}
	return modelRef, prefix, batch, nil
}

// optionsStart returns the index of the '?' that starts a model reference's options, or -1: the
// first '?' after the '#' of openai-compat:URL#MODEL (the URL may not carry a query), else the
// first '?'.
func optionsStart(ref string) int {
	start := 0
	if strings.HasPrefix(ref, "openai-compat:") {
		start = max(strings.IndexByte(ref, '#'), 0)
	}
	q := strings.IndexByte(ref[start:], '?')
	if q < 0 {
		return -1
	}
	return start + q
}

// addOption appends key=value (query-escaped) to a reference's options.
func addOption(ref, key, value string) string {
	sep := "?"
	if optionsStart(ref) >= 0 {
		sep = "&"
	}
	return ref + sep + key + "=" + url.QueryEscape(value)
}
