package gen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Batch files follow the OpenAI Batch API's JSONL format, which `vllm run-batch` also reads and
// writes: one request per line, {"custom_id", "method", "url", "body"}, and one result per line,
// {"custom_id", "response": {"status_code", "body"}, "error"}. The custom_id carries what the
// generations table needs back: mbd|LABEL|PROMPT_ID|SAMPLE|SEED.

// BatchRequests are the settings of exported requests.
type BatchRequests struct {
	Model  string // model name as the server knows it
	Chat   bool   // /v1/chat/completions instead of /v1/completions
	System string // hidden system prompt (chat only)
	Params Params // label and sampling
}

// ExportRequests writes one batch request per job to w.
func ExportRequests(w io.Writer, jobs []Job, b BatchRequests) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	s := b.Params.Sampling
	for _, jb := range jobs {
		body := map[string]any{"model": b.Model, "max_tokens": s.MaxTokens, "temperature": s.Temperature, "seed": int64(jb.Seed)}
		if s.TopP > 0 && s.TopP < 1 {
			body["top_p"] = s.TopP
		}
		if len(s.Stop) > 0 {
			body["stop"] = s.Stop
		}
		for k, v := range map[string]float64{"top_k": float64(s.TopK), "min_p": s.MinP} {
			if v > 0 {
				body[k] = v // vLLM extensions
			}
		}
		if r := s.RepetitionPenalty; r != 0 && r != 1 {
			body["repetition_penalty"] = r
		}
		url := "/v1/completions"
		if b.Chat {
			url = "/v1/chat/completions"
			var msgs []map[string]string
			if b.System != "" {
				msgs = append(msgs, map[string]string{"role": "system", "content": b.System})
			}
			body["messages"] = append(msgs, map[string]string{"role": "user", "content": jb.Prompt.Text})
			body["logprobs"] = true
		} else {
			body["prompt"] = jb.Prompt.Text
			body["logprobs"] = 0
		}
		id := fmt.Sprintf("mbd|%s|%s|%d|%d", b.Params.Label, jb.Prompt.ID, jb.Sample, jb.Seed)
		if err := enc.Encode(map[string]any{"custom_id": id, "method": "POST", "url": url, "body": body}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type batchResult struct {
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int `json:"status_code"`
		Body       struct {
			Model   string `json:"model"`
			Choices []struct {
				Text         string `json:"text"`
				FinishReason string `json:"finish_reason"`
				Message      *struct {
					Content string `json:"content"`
				} `json:"message"`
				Logprobs *struct {
					TokenLogprobs []*float64 `json:"token_logprobs"`
					Content       []struct {
						Logprob float64 `json:"logprob"`
					} `json:"content"`
				} `json:"logprobs"`
			} `json:"choices"`
			Usage *struct {
				PromptTokens     int32 `json:"prompt_tokens"`
				CompletionTokens int32 `json:"completion_tokens"`
			} `json:"usage"`
		} `json:"body"`
	} `json:"response"`
	Error json.RawMessage `json:"error"`
}

// Imported is what ImportResults read.
type Imported struct {
	Rows   []schema.Generation // by model, then prompt order, then sample
	Failed int                 // failed requests left out
	Lines  []int64             // result lines per file
}

// ImportResults reads batch result files for requests written by ExportRequests from the prompts
// ps (a table named promptsName). A failed request (an error or a status other than 200) is an
// error unless skipFailed, which leaves it out and counts it.
func ImportResults(ps []schema.Prompt, promptsName string, paths []string, skipFailed bool) (Imported, error) {
	var out Imported
	order := map[string]int{}
	byID := map[string]schema.Prompt{}
	for i, p := range ps {
		order[p.ID], byID[p.ID] = i, p
	}
	seen := map[string]bool{}
	for _, path := range paths {
		n, err := readResults(path, func(where string, r batchResult) error {
			parts := strings.Split(r.CustomID, "|")
			if len(parts) != 5 || parts[0] != "mbd" {
				return &table.InputError{Path: where, Column: "custom_id", Msg: fmt.Sprintf("%q was not written by mbd-gen batch-export", r.CustomID)}
			}
			label, pid := parts[1], parts[2]
			sample, err1 := strconv.ParseInt(parts[3], 10, 32)
			seed, err2 := strconv.ParseUint(parts[4], 10, 64)
			prompt, ok := byID[pid]
			if err1 != nil || err2 != nil || !ok {
				return &table.InputError{Path: where, Column: "custom_id", Msg: fmt.Sprintf("%q names no prompt of %s", r.CustomID, promptsName)}
			}
			if r.Response == nil || r.Response.StatusCode != 200 || len(r.Response.Body.Choices) == 0 || (len(r.Error) > 0 && string(r.Error) != "null") {
				if !skipFailed {
					return fmt.Errorf("%s: request %s failed: %s (use --skip-failed to leave it out)", where, r.CustomID, failure(r))
				}
				out.Failed++
				return nil
			}
			if seen[r.CustomID] {
				return &table.InputError{Path: where, Msg: fmt.Sprintf("request %s answered twice", r.CustomID)}
			}
			seen[r.CustomID] = true
			out.Rows = append(out.Rows, resultRow(r, label, prompt, int32(sample), seed))
			return nil
		})
		out.Lines = append(out.Lines, n)
		if err != nil {
			return out, err
		}
	}
	sort.SliceStable(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if order[a.PromptID] != order[b.PromptID] {
			return order[a.PromptID] < order[b.PromptID]
		}
		return a.Sample < b.Sample
	})
	return out, nil
}

// readResults calls fn with each non-empty line of a results file and returns the lines read.
func readResults(path string, fn func(where string, r batchResult) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, &table.InputError{Path: path, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var line int64
	for sc.Scan() {
		line++
		where := fmt.Sprintf("%s:%d", path, line)
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r batchResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return line, &table.InputError{Path: where, Msg: "not a batch result line", Err: err}
		}
		if err := fn(where, r); err != nil {
			return line, err
		}
	}
	if err := sc.Err(); err != nil {
		return line, &table.InputError{Path: path, Msg: "read", Err: err}
	}
	return line, nil
}

func resultRow(r batchResult, label string, prompt schema.Prompt, sample int32, seed uint64) schema.Generation {
	body := r.Response.Body
	ch := body.Choices[0]
	g := schema.Generation{
		ID: GenerationID(label, prompt.ID, sample), Model: label, ModelRef: "batch:" + body.Model, PromptID: prompt.ID,
		Split: prompt.Split, Sample: sample, Seed: int64(seed), Prompt: prompt.Text, Completion: ch.Text,
		FinishReason: "unknown",
	}
	if ch.Message != nil {
		g.Completion = ch.Message.Content
	}
	switch ch.FinishReason {
	case "stop", "length":
		g.FinishReason = ch.FinishReason
	}
	if u := body.Usage; u != nil {
		pt, ct := u.PromptTokens, u.CompletionTokens
		g.PromptTokens, g.CompletionTokens = &pt, &ct
	}
	if lp := ch.Logprobs; lp != nil {
		var sum float64
		n := 0
		for _, x := range lp.TokenLogprobs {
			if x != nil {
				sum += *x
				n++
			}
		}
		for _, c := range lp.Content {
			sum += c.Logprob
			n++
		}
		if n > 0 {
			mean := sum / float64(n)
			g.LogprobSum, g.LogprobMean = &sum, &mean
		}
	}
	return g
}

func failure(r batchResult) string {
	switch {
	case len(r.Error) > 0 && string(r.Error) != "null":
		return string(r.Error)
	case r.Response == nil:
		return "no response"
	case r.Response.StatusCode != 200:
		return fmt.Sprintf("status %d", r.Response.StatusCode)
	}
	return "no choices"
}
