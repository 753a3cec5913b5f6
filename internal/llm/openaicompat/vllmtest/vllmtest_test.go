package vllmtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/openaicompat/vllmtest"
)

// byteModel scores every completion byte as -1 - position/10.
type byteModel struct{}

func (byteModel) Generate(ctx context.Context, reqs []llm.GenRequest, s llm.Sampling, yield func(llm.GenResult) error) error {
	for _, r := range reqs {
		if err := yield(llm.GenResult{ID: r.ID, Completion: "!", FinishReason: "stop", CompletionTokens: 1, LogprobSum: -2, HasLogprob: true}); err != nil {
			return err
		}
	}
	return nil
}

func (byteModel) Score(ctx context.Context, reqs []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	var out []llm.ScoreResult
	for _, r := range reqs {
		res := llm.ScoreResult{ID: r.ID}
		for i := 0; i < len(r.Completion); i++ {
			res.Tokens = append(res.Tokens, int32(r.Completion[i]))
			res.Logprobs = append(res.Logprobs, -1-float64(len(r.Prompt)+1+i)/10)
		}
		out = append(out, res)
	}
	return out, nil
}

func (byteModel) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return nil, llm.ErrCannotEmbed
}
func (byteModel) Info() llm.Info { return llm.Info{} }
func (byteModel) Close() error   { return nil }

var byteTok = vllmtest.TokenizerFuncs{
	TokenizeFunc: func(text string, addSpecial bool) ([]int32, error) {
		var ids []int32
		if addSpecial {
			ids = append(ids, 0)
		}
		for i := 0; i < len(text); i++ {
			ids = append(ids, int32(text[i]))
		}
		return ids, nil
	},
	DetokenizeFunc: func(ids []int32) (string, error) {
		var b []byte
		for _, id := range ids {
			if id > 0 {
				b = append(b, byte(id))
			}
		}
		return string(b), nil
	},
}

func post(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return res.StatusCode, m
}

func TestWireFormat(t *testing.T) {
	srv := vllmtest.NewServer(byteModel{}, vllmtest.WithTokenizer(byteTok))
	defer srv.Close()

	_, tp := post(t, srv.URL+"/tokenize", map[string]any{"model": "test-model", "prompt": "ab"})
	_, tc := post(t, srv.URL+"/tokenize", map[string]any{"model": "test-model", "prompt": "cd", "add_special_tokens": false})
	if got, _ := json.Marshal(tp["tokens"]); string(got) != "[0,97,98]" || tp["count"] != 3.0 {
		t.Fatalf("tokenize: %v", tp)
	}
	ids := append(tp["tokens"].([]any), tc["tokens"].([]any)...)
	code, resp := post(t, srv.BaseURL()+"/completions", map[string]any{
		"model": "test-model", "prompt": ids, "max_tokens": 0, "echo": true, "prompt_logprobs": 0,
	})
	if code != 200 {
		t.Fatalf("%d %v", code, resp)
	}
	ch := resp["choices"].([]any)[0].(map[string]any)
	pl := ch["prompt_logprobs"].([]any)
	if len(pl) != 5 || pl[0] != nil {
		t.Fatalf("prompt_logprobs %v", pl)
	}
	e := pl[4].(map[string]any)["100"].(map[string]any)
	if e["logprob"] != -1.4 || e["decoded_token"] != "d" {
		t.Errorf("last entry %v", e)
	}
	if ch["text"] != "abcd" {
		t.Errorf("echo text %q", ch["text"])
	}

	code, resp = post(t, srv.BaseURL()+"/completions", map[string]any{"model": "test-model", "prompt": "x", "logprobs": 0})
	ch = resp["choices"].([]any)[0].(map[string]any)
	if code != 200 || ch["text"] != "!" || ch["finish_reason"] != "stop" {
		t.Errorf("%d %v", code, resp)
	}
	if lp := ch["logprobs"].(map[string]any)["token_logprobs"].([]any); len(lp) != 1 || lp[0] != -2.0 {
		t.Errorf("logprobs %v", ch["logprobs"])
	}

	code, resp = post(t, srv.BaseURL()+"/completions", map[string]any{"model": "other", "prompt": "x"})
	if code != 404 || !strings.Contains(resp["error"].(map[string]any)["message"].(string), "other") {
		t.Errorf("wrong model: %d %v", code, resp)
	}
	if code, resp = post(t, srv.BaseURL()+"/embeddings", map[string]any{"model": "test-model", "input": "x"}); code != 404 {
		t.Errorf("embeddings of a model that cannot: %d %v", code, resp)
	}
}
