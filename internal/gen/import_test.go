package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/prompts"
	"github.com/mbd-dev/mbd/internal/schema"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImporter(t *testing.T) {
	cols := Columns{Model: "model", Prompt: "prompt", Completion: "completion"}
	a := write(t, "a.jsonl", `{"model": "A", "prompt": " Say hi. ", "completion": "Hello!"}
{"model": "A", "prompt": "Say hi.", "completion": "Hi."}
{"model": "B", "prompt": "Count.", "completion": "1 2 3", "finish": "max_tokens"}
`)
	b := write(t, "b.csv", "model,prompt,completion\nA,Say hi.,Hey!\n")
	for _, tc := range []struct {
		name    string
		im      Importer
		files   []string
		samples []int32
		splits  []string
		want    string // error
	}{
		{"numbered across files", Importer{Columns: cols, ValidationFraction: 1}, []string{a, b}, []int32{0, 1, 0, 2},
			[]string{schema.SplitValidation, schema.SplitValidation, schema.SplitValidation, schema.SplitValidation}, ""},
		{"splits from a table", Importer{Columns: cols, Splits: map[string]string{prompts.ID("Say hi."): "discovery", prompts.ID("Count."): "validation"}},
			[]string{a}, []int32{0, 1, 0}, []string{"discovery", "discovery", "validation"}, ""},
		{"prompt not in the table", Importer{Columns: cols, Splits: map[string]string{}, PromptsName: "p.parquet"}, []string{a}, nil, nil,
			`a.jsonl:1: column "prompt": prompt "Say hi." is not in p.parquet`},
		{"fixed model", Importer{Columns: Columns{Prompt: "prompt", Completion: "completion"}, Model: "C"}, []string{b}, []int32{0}, []string{schema.SplitDiscovery}, ""},
		{"missing column", Importer{Columns: Columns{Model: "model", Prompt: "question", Completion: "completion"}}, []string{a}, nil, nil, `column "question": missing`},
		{"plain text", Importer{Columns: cols}, []string{write(t, "x.txt", "hello\n")}, nil, nil, "plain text has no columns"},
		{"sample column repeats", Importer{Columns: Columns{Model: "model", Prompt: "prompt", Completion: "completion", Sample: "s"}},
			[]string{write(t, "d.jsonl", `{"model":"A","prompt":"p","completion":"x","s":0}`+"\n"+`{"model":"A","prompt":"p","completion":"y","s":0}`+"\n")}, nil, nil,
			"d.jsonl:2: model \"A\", prompt \"p\", sample 0 already came from"},
	} {
		var got []schema.Generation
		var err error
		for _, f := range tc.files {
			if _, err = tc.im.Read(context.Background(), f, func(g schema.Generation) error { got = append(got, g); return nil }); err != nil {
				break
			}
		}
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil || len(got) != len(tc.samples) {
			t.Errorf("%s: %d rows, %v", tc.name, len(got), err)
			continue
		}
		for i, g := range got {
			if g.Sample != tc.samples[i] || g.Split != tc.splits[i] || g.ID != GenerationID(g.Model, g.PromptID, g.Sample) ||
				g.PromptID != prompts.ID(g.Prompt) || strings.TrimSpace(g.Prompt) != g.Prompt || !strings.HasPrefix(g.ModelRef, "import:") {
				t.Errorf("%s: row %d: %+v", tc.name, i, g)
			}
		}
	}
}

func TestFinishReason(t *testing.T) {
	for in, want := range map[string]string{"stop": "stop", " length ": "length", "eos": "stop", "end_turn": "stop",
		"stop_sequence": "stop", "max_tokens": "length", "content_filter": "unknown", "": "unknown"} {
		if got := FinishReason(in); got != want {
			t.Errorf("FinishReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBatchRoundTrip exports requests, answers each as a server would, and imports the answers.
func TestBatchRoundTrip(t *testing.T) {
	ps := promptsN(3)
	p := Params{Label: "B", Sampling: llm.Sampling{Temperature: 0.7, TopP: 0.9, MaxTokens: 5, Stop: []string{"\n"}}}
	jobs := Jobs(ps, p.Label, 2, 3)
	for _, chat := range []bool{false, true} {
		var buf bytes.Buffer
		if err := ExportRequests(&buf, jobs, BatchRequests{Model: "m", Chat: chat, System: "Be brief.", Params: p}); err != nil {
			t.Fatal(err)
		}
		var results strings.Builder
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != len(jobs) {
			t.Fatalf("%d requests, want %d", len(lines), len(jobs))
		}
		for i := len(lines) - 1; i >= 0; i-- { // answered out of order
			var req struct {
				CustomID string         `json:"custom_id"`
				URL      string         `json:"url"`
				Body     map[string]any `json:"body"`
			}
			if err := json.Unmarshal([]byte(lines[i]), &req); err != nil {
				t.Fatal(err)
			}
			if wantURL := map[bool]string{false: "/v1/completions", true: "/v1/chat/completions"}[chat]; req.URL != wantURL ||
				req.Body["top_p"] != 0.9 || req.Body["max_tokens"] != 5.0 || !strings.Contains(lines[i], fmt.Sprintf(`"seed":%d,`, int64(jobs[i].Seed))) {
				t.Errorf("request %d: %s", i, lines[i])
			}
			if chat && !strings.Contains(lines[i], `"role":"system","content":"Be brief."`) && !strings.Contains(lines[i], `"content":"Be brief.","role":"system"`) {
				t.Errorf("no system message: %s", lines[i])
			}
			fmt.Fprintf(&results, `{"custom_id":%q,"response":{"status_code":200,"body":{"model":"m","choices":[{"text":"t%d","finish_reason":"length","logprobs":{"token_logprobs":[-1,-3]}}],"usage":{"prompt_tokens":4,"completion_tokens":2}}},"error":null}`+"\n", req.CustomID, i)
		}
		fmt.Fprintf(&results, `{"custom_id":"mbd|B|p00|9|1","response":{"status_code":500,"body":{}},"error":null}`+"\n")
		path := write(t, "results.jsonl", results.String())

		if _, err := ImportResults(ps, "p.parquet", []string{path}, false); err == nil || !strings.Contains(err.Error(), "failed: status 500") {
			t.Errorf("a failed request without skipFailed: %v", err)
		}
		got, err := ImportResults(ps, "p.parquet", []string{path}, true)
		if err != nil {
			t.Fatal(err)
		}
		if got.Failed != 1 || len(got.Rows) != len(jobs) || got.Lines[0] != int64(len(jobs)+1) {
			t.Fatalf("imported %d rows, %d failed, lines %v", len(got.Rows), got.Failed, got.Lines)
		}
		for i, g := range got.Rows {
			jb := jobs[i]
			if g.ID != jb.ID || g.Seed != int64(jb.Seed) || g.Split != jb.Prompt.Split || g.Completion != fmt.Sprintf("t%d", i) ||
				g.ModelRef != "batch:m" || g.FinishReason != "length" || *g.LogprobSum != -4 || *g.LogprobMean != -2 || *g.CompletionTokens != 2 {
				t.Errorf("row %d: %+v", i, g)
			}
		}
	}
	for content, want := range map[string]string{
		"not json\n":                            "not a batch result line",
		`{"custom_id":"other|x"}` + "\n":        "was not written by mbd-gen batch-export",
		`{"custom_id":"mbd|B|nope|0|1"}` + "\n": "names no prompt of p.parquet",
	} {
		if _, err := ImportResults(ps, "p.parquet", []string{write(t, "bad.jsonl", content)}, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}
