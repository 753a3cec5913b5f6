package scoring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/schema"
)

// fake scores each completion byte by byte: token b has log-prob -b/100; it records batch sizes.
type fake struct {
	llm.Model
	batches []int
	fail    bool
}

func (f *fake) Score(_ context.Context, reqs []llm.ScoreRequest) ([]llm.ScoreResult, error) {
	if f.fail {
		return nil, llm.ErrCannotScore
	}
	f.batches = append(f.batches, len(reqs))
	var out []llm.ScoreResult
	for _, r := range reqs {
		res := llm.ScoreResult{ID: r.ID}
		for _, b := range []byte(r.Completion) {
			res.Tokens = append(res.Tokens, int32(b))
			res.Logprobs = append(res.Logprobs, -float64(b)/100)
			res.Sum -= float64(b) / 100
		}
		if n := len(res.Logprobs); n > 0 {
			res.Mean = res.Sum / float64(n)
		}
		out = append(out, res)
	}
	return out, nil
}

// detok adds token texts.
type detok struct{ fake }

func (d *detok) Detokenize(t []int32, _ bool) string { return strings.ToUpper(string(rune(t[0]))) }

func gens(n int) []schema.Generation {
	var g []schema.Generation
	for i := range n {
		g = append(g, schema.Generation{ID: fmt.Sprint("g", i), Prompt: "p", Completion: "ab"})
	}
	return g
}

func TestGenerations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		batch   int
		batches []int
	}{
		{"one batch", 3, 32, []int{3}},
		{"exact batches", 4, 2, []int{2, 2}},
		{"last batch short", 5, 2, []int{2, 2, 1}},
		{"batch of one", 2, 1, []int{1, 1}},
		{"no rows", 0, 8, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fake{}
			done := 0
			rows, err := Generations(context.Background(), m, "gguf:x.gguf", gens(tc.n), tc.batch, func(n int) { done += n })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.batches, tc.batches) || done != tc.n || len(rows) != tc.n {
				t.Fatalf("batches %v, progress %d, rows %d; want %v, %d, %d", m.batches, done, len(rows), tc.batches, tc.n, tc.n)
			}
			for i, r := range rows {
				if r.GenerationID != fmt.Sprint("g", i) || r.Scorer != "gguf:x.gguf" || r.LogprobSum != -1.95 ||
					!slices.Equal(r.Logprobs, []float32{-0.97, -0.98}) || r.Tokens != nil {
					t.Errorf("row %d: %+v", i, r)
				}
			}
		})
	}
}

func TestGenerationsTokenTexts(t *testing.T) {
	rows, err := Generations(context.Background(), &detok{}, "m", gens(1), 4, nil)
	if err != nil || len(rows) != 1 || !slices.Equal(rows[0].Tokens, []string{"A", "B"}) {
		t.Fatalf("%+v, %v", rows, err)
	}
}

func TestGenerationsErrors(t *testing.T) {
	if _, err := Generations(context.Background(), &fake{fail: true}, "m", gens(2), 4, nil); !errors.Is(err, llm.ErrCannotScore) {
		t.Errorf("backend error: %v", err)
	}
	if _, err := Generations(context.Background(), &fake{}, "m", gens(2), 0, nil); err == nil {
		t.Error("batch 0 accepted")
	}
}
