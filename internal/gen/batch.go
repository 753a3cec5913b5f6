package gen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Batch files follow the OpenAI Batch API's JSONL format, which `vllm run-batch` also reads and
// writes: one request per line, {"custom_id", "method", "url", "body"}, and one result per line,
// {"custom_id", "response": {"status_code", "body"}, "error"}. The custom_id carries what the
// generations table needs back: mbd|LABEL|PROMPT_ID|SAMPLE|SEED.

func batchExportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "batch-export",
		Usage:     "write the requests of a generation run as OpenAI batch JSONL (OpenAI Batch API, vllm run-batch)",
		ArgsUsage: "PROMPTS",
		Description: `Writes one request per completion to make (prompts x --samples), with the sampling settings and
the per-completion seed mbd-gen run would use. Send the file to the OpenAI Batch API or run it with
vllm run-batch, then turn the results into a generations table with mbd-gen batch-import.

Examples:
  mbd-gen batch-export --model gpt-4o-mini --label B --chat --samples 2 prompts.parquet -o requests.jsonl
  vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-7B-Instruct`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "model", Usage: "model `NAME` as the server knows it"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output requests `FILE.jsonl`"},
			&ucli.BoolFlag{Name: "chat", Usage: "use /v1/chat/completions (default /v1/completions)"},
			&ucli.StringFlag{Name: "system", Usage: "hidden system prompt `FILE` (chat only)"},
			&ucli.StringFlag{Name: "shard", Usage: "`i/N`: only shard i of N"},
		}, samplingFlags()...),
		Action: batchExport,
	}
}

func batchExport(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, model := cmd.String("output"), cmd.String("model")
	switch {
	case model == "":
		return cli.Usagef("no model: give --model NAME")
	case out == "":
		return cli.Usagef("no output: give -o FILE.jsonl")
	case cmd.NArg() != 1:
		return cli.Usagef("want one PROMPTS table")
	}
	p, err := parseGenFlags(cmd)
	if err != nil {
		return err
	}
	system := ""
	if f := cmd.String("system"); f != "" {
		if !cmd.Bool("chat") {
			return cli.Usagef("--system needs --chat (a completions request has no system message)")
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return cli.Usagef("--system: %v", err)
		}
		system = strings.TrimSpace(string(b))
	}
	jobs, _, err := loadJobs(cmd.Args().First(), env.Stdin, p)
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, jb := range jobs {
		body := map[string]any{"model": model, "max_tokens": p.sampling.MaxTokens, "temperature": p.sampling.Temperature, "seed": int64(jb.seed)}
		if p.sampling.TopP > 0 && p.sampling.TopP < 1 {
			body["top_p"] = p.sampling.TopP
		}
		if len(p.sampling.Stop) > 0 {
			body["stop"] = p.sampling.Stop
		}
		for k, v := range map[string]float64{"top_k": float64(p.sampling.TopK), "min_p": p.sampling.MinP} {
			if v > 0 {
				body[k] = v // vLLM extensions
			}
		}
		if r := p.sampling.RepetitionPenalty; r != 0 && r != 1 {
			body["repetition_penalty"] = r
		}
		url := "/v1/completions"
		if cmd.Bool("chat") {
			url = "/v1/chat/completions"
			var msgs []map[string]string
			if system != "" {
				msgs = append(msgs, map[string]string{"role": "system", "content": system})
			}
			body["messages"] = append(msgs, map[string]string{"role": "user", "content": jb.prompt.Text})
			body["logprobs"] = true
		} else {
			body["prompt"] = jb.prompt.Text
			body["logprobs"] = 0
		}
		id := fmt.Sprintf("mbd|%s|%s|%d|%d", p.label, jb.prompt.ID, jb.sample, jb.seed)
		if err := enc.Encode(map[string]any{"custom_id": id, "method": "POST", "url": url, "body": body}); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	env.Log.Info("wrote batch requests", "output", out, "requests", len(jobs))
	return nil
}

func batchImportCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "batch-import",
		Usage:     "turn OpenAI batch results JSONL into a generations table",
		ArgsUsage: "RESULTS.jsonl ...",
		Description: `Reads batch results for requests written by mbd-gen batch-export. --prompts gives the prompt
texts and splits. A failed request (an error or a status other than 200) stops the import, unless
--skip-failed, which leaves it out and says how many were left out.

Example:
  mbd-gen batch-import --prompts prompts.parquet results.jsonl -o generations.parquet`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "prompts", Usage: "the prompts `TABLE` the requests were made from"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output generations table (`PATH` or -)"},
			&ucli.BoolFlag{Name: "skip-failed", Usage: "leave failed requests out instead of stopping"},
		},
		Action: batchImport,
	}
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

func batchImport(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out, pp := cmd.String("output"), cmd.String("prompts")
	switch {
	case pp == "":
		return cli.Usagef("no prompts: give --prompts TABLE")
	case out == "":
		return cli.Usagef("no output: give -o PATH (or -o - for stdout)")
	case cmd.NArg() == 0:
		return cli.Usagef("want one or more RESULTS.jsonl")
	}
	ps, err := table.ReadAll[schema.Prompt](pp, env.Stdin)
	if err != nil {
		return err
	}
	order := map[string]int{}
	byID := map[string]schema.Prompt{}
	for i, p := range ps {
		order[p.ID], byID[p.ID] = i, p
	}
	var rows []schema.Generation
	seen := map[string]bool{}
	failed := 0
	for _, path := range cmd.Args().Slice() {
		f, err := os.Open(path)
		if err != nil {
			return &table.InputError{Path: path, Msg: "cannot open", Err: err}
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		line := 0
		for sc.Scan() {
			line++
			where := fmt.Sprintf("%s:%d", path, line)
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var r batchResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return &table.InputError{Path: where, Msg: "not a batch result line", Err: err}
			}
			parts := strings.Split(r.CustomID, "|")
			if len(parts) != 5 || parts[0] != "mbd" {
				f.Close()
				return &table.InputError{Path: where, Column: "custom_id", Msg: fmt.Sprintf("%q was not written by mbd-gen batch-export", r.CustomID)}
			}
			label, pid := parts[1], parts[2]
			sample, err1 := strconv.ParseInt(parts[3], 10, 32)
			seed, err2 := strconv.ParseUint(parts[4], 10, 64)
			prompt, ok := byID[pid]
			if err1 != nil || err2 != nil || !ok {
				f.Close()
				return &table.InputError{Path: where, Column: "custom_id", Msg: fmt.Sprintf("%q names no prompt of %s", r.CustomID, pp)}
			}
			if r.Response == nil || r.Response.StatusCode != 200 || len(r.Response.Body.Choices) == 0 || (len(r.Error) > 0 && string(r.Error) != "null") {
				if !cmd.Bool("skip-failed") {
					f.Close()
					return fmt.Errorf("%s: request %s failed: %s (use --skip-failed to leave it out)", where, r.CustomID, failure(r))
				}
				failed++
				continue
			}
			if seen[r.CustomID] {
				f.Close()
				return &table.InputError{Path: where, Msg: fmt.Sprintf("request %s answered twice", r.CustomID)}
			}
			seen[r.CustomID] = true
			body := r.Response.Body
			ch := body.Choices[0]
			g := schema.Generation{
				ID: GenerationID(label, pid, int32(sample)), Model: label, ModelRef: "batch:" + body.Model, PromptID: pid,
				Split: prompt.Split, Sample: int32(sample), Seed: int64(seed), Prompt: prompt.Text, Completion: ch.Text,
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
				g.PromptTokens, g.CompletionTokens = &u.PromptTokens, &u.CompletionTokens
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
			rows = append(rows, g)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return &table.InputError{Path: path, Msg: "read", Err: err}
		}
	}
	if len(rows) == 0 {
		return &table.InputError{Path: strings.Join(cmd.Args().Slice(), ", "), Msg: "no successful results"}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if order[a.PromptID] != order[b.PromptID] {
			return order[a.PromptID] < order[b.PromptID]
		}
		return a.Sample < b.Sample
	})
	w, err := table.Create[schema.Generation](out, env.Stdout)
	if err != nil {
		return err
	}
	defer w.Abort()
	if err := w.Write(rows...); err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if failed > 0 {
		env.Log.Warn("left out failed requests", "count", failed)
	}
	env.Manifest.Param("failed", failed)
	if err := env.Manifest.WriteFor(out, schema.Generations.ID(), w.Rows()); err != nil {
		return err
	}
	env.Log.Info("imported batch results", "output", out, "rows", w.Rows())
	return nil
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
