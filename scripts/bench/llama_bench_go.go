//go:build ignore

// llama_bench_go runs mbd's Go path (internal/llm/llamacpp: Load, then Generate or Score) on the
// input and settings of the C program llamac (bench.c), for scripts/bench/llama.sh. Same arguments:
//
//	MODE (gen or score) MODEL INPUT PARALLEL THREADS ATTN MAX_TOKENS CTX
//
// ATTN fast is the default generation path, exact is exact=1 (Options.Exact); scoring is F32 either
// way. It prints one line: tokens=N seconds=S (S: the Generate or Score call, after loading).
//
// With the arguments "inputs DIR" it writes the scoring input instead: 64 prompts of 12 words and
// completions of 75 words cut from the tiny models' corpus, as a generations table for mbd-model
// score (DIR/score.parquet) and as lines for the programs (DIR/score.txt).
//
// Build from the module root: go build -o llama-bench-go scripts/bench/llama_bench_go.go
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "llama_bench_go:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 2 && args[0] == "inputs" {
		return writeScoreInputs(args[1])
	}
	if len(args) != 8 {
		return fmt.Errorf("usage: gen|score MODEL INPUT PARALLEL THREADS fast|exact MAX_TOKENS CTX")
	}
	n := make([]int, 0, 4)
	for _, a := range []string{args[3], args[4], args[6], args[7]} {
		v, err := strconv.Atoi(a)
		if err != nil {
			return err
		}
		n = append(n, v)
	}
	lines, err := readLines(args[2])
	if err != nil {
		return err
	}
	m, err := llamacpp.Load(llamacpp.Options{Path: args[1], Chat: "off", Parallel: n[0], Threads: n[1], Ctx: n[3], Exact: args[5] == "exact"})
	if err != nil {
		return err
	}
	defer m.Close()
	ctx := context.Background()
	tokens := 0
	start := time.Now()
	switch args[0] {
	case "gen":
		reqs := make([]llm.GenRequest, len(lines))
		for i, l := range lines {
			reqs[i] = llm.GenRequest{ID: strconv.Itoa(i), Prompt: l, Seed: uint64(i)}
		}
		err = m.Generate(ctx, reqs, llm.Sampling{Temperature: 0.8, MaxTokens: n[2]}, func(r llm.GenResult) error {
			tokens += r.CompletionTokens
			return nil
		})
	case "score":
		reqs := make([]llm.ScoreRequest, len(lines))
		for i, l := range lines {
			p, c, ok := strings.Cut(l, "\x01")
			if !ok {
				return fmt.Errorf("%s line %d: no tab", args[2], i+1)
			}
			reqs[i] = llm.ScoreRequest{ID: strconv.Itoa(i), Prompt: p, Completion: c}
		}
		var res []llm.ScoreResult
		res, err = m.Score(ctx, reqs)
		for _, r := range res {
			tokens += len(r.Logprobs)
		}
	default:
		return fmt.Errorf("mode %q: want gen or score", args[0])
	}
	if err != nil {
		return err
	}
	fmt.Printf("tokens=%d seconds=%.4f\n", tokens, time.Since(start).Seconds())
	return nil
}

// readLines reads one record per line, unescaping \n, \t and \\; a raw TAB becomes \x01.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var b strings.Builder
		l := sc.Text()
		for i := 0; i < len(l); i++ {
			switch c := l[i]; {
			case c == '\\' && i+1 < len(l):
				i++
				switch l[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(l[i])
				}
			case c == '\t':
				b.WriteByte('\x01')
			default:
				b.WriteByte(c)
			}
		}
		out = append(out, b.String())
	}
	return out, sc.Err()
}

// writeScoreInputs writes dir/score.parquet and dir/score.txt (see the package comment).
func writeScoreInputs(dir string) error {
	const nPairs, nPrompt, nComp = 64, 12, 75
	words := strings.Fields(tinymodel.DefaultCorpus())
	stride := (len(words) - nPrompt - nComp) / nPairs
	w, err := table.Create[schema.Generation](dir+"/score.parquet", nil)
	if err != nil {
		return err
	}
	defer w.Abort()
	var lines strings.Builder
	esc := strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\t", "\\t")
	for i := range nPairs {
		at := i * stride
		p := strings.Join(words[at:at+nPrompt], " ")
		c := " " + strings.Join(words[at+nPrompt:at+nPrompt+nComp], " ")
		id := strconv.Itoa(i)
		if err := w.Write(schema.Generation{ID: id, Model: "S", ModelRef: "corpus", PromptID: id, Split: "discovery",
			Prompt: p, Completion: c, FinishReason: "length"}); err != nil {
			return err
		}
		fmt.Fprintf(&lines, "%s\t%s\n", esc.Replace(p), esc.Replace(c))
	}
	if err := w.Commit(); err != nil {
		return err
	}
	return os.WriteFile(dir+"/score.txt", []byte(lines.String()), 0o644)
}
