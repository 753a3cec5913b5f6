package modelcmd

import (
	"context"
	"errors"
	"regexp"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/weightdiff"
)

// DiffOptions are the options of mbd-model diff.
type DiffOptions struct {
	Output     string   // -o
	JSON       bool     // --json
	Tensors    string   // --tensors
	Top        int      // --top
	Limit      int      // --limit
	ExactMax   int      // --exact-max
	Sketch     int      // --sketch
	PowerIters int      // --power-iters
	Seed       uint64   // --seed
	Models     []string // A.gguf B.gguf arguments
}

// maxPowerIters bounds --power-iters: each round is two passes over a matrix.
const maxPowerIters = 100

func diffCommand() *ucli.Command {
	o := &DiffOptions{}
	return &ucli.Command{
		Name: "diff", Usage: "compare two GGUF models weight by weight", ArgsUsage: "A.gguf B.gguf",
		Description: `For every tensor in both files: the Frobenius norms of A, B and of the difference D = B - A, the
relative difference ||D||/||A||, the largest |D|; for matrices (2-D tensors) also the --top largest
singular values of D, the fewest singular directions holding 90% of its energy (rank90: 1 for a
rank-1 update, a large share of the full rank for noise such as quantization's) and the relative
error of its best rank-1 approximation. Quantized tensors (Q8_0, Q4_0, Q4_K, Q6_K ...) are
dequantized with ggml's own code first, so a model can be compared with its quantized copy. Tensors
in one file only, of different shapes or of types that are not numbers (I32) are listed, not
skipped. Shapes are in ggml order: the row length (a matrix's input features) first.

Singular values are exact (eigenvalues of the smaller Gram matrix: max·min² multiply-adds, min²
doubles of memory) for matrices whose smaller side is at most --exact-max, and estimated by a
randomized range finder (--sketch directions, --power-iters rounds: 2·iters+2 passes of
rows·cols·sketch multiply-adds) for larger ones, such as the 4096×4096 matrices of 7B models (about
2 s each on 2 cores). One tensor is processed at a time, streamed from both files in blocks of rows;
memory is a few MB of blocks plus the Gram matrix (8·min² bytes, and 8·rows·cols for the whole
difference when it has fewer rows than columns) or the sketch (8·(rows+cols)·sketch bytes).

Writes a weightdiff table with -o, and prints the tensors with the largest relative difference
first (--json: every row as JSON instead).

Examples:
  mbd-model diff base.gguf tuned.gguf
  mbd-model diff --tensors 'blk\.(0|1)\.' --json base.gguf base-q8.gguf
  mbd-model diff -o weightdiff.parquet base.gguf tuned.gguf`,
		Flags: []ucli.Flag{
			cli.OutputFlag(&o.Output, "also write a weightdiff table (`PATH` or -)"),
			&ucli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print every row as JSON instead of the summary"},
			&ucli.StringFlag{Name: "tensors", Destination: &o.Tensors, Usage: "compare only tensors whose names match `REGEX`"},
			&ucli.IntFlag{Name: "top", Value: 8, Destination: &o.Top, Usage: "singular values reported per matrix"},
			&ucli.IntFlag{Name: "limit", Value: 30, Destination: &o.Limit, Usage: "tensors shown in the summary (0: all)"},
			&ucli.IntFlag{Name: "exact-max", Value: 1024, Destination: &o.ExactMax, Usage: "exact spectrum when a matrix's smaller side is at most this"},
			&ucli.IntFlag{Name: "sketch", Value: 64, Destination: &o.Sketch, Usage: "directions of the randomized range finder for larger matrices"},
			&ucli.IntFlag{Name: "power-iters", Value: 2, Destination: &o.PowerIters, Usage: "subspace iterations of the randomized range finder"},
			&ucli.Uint64Flag{Name: "seed", Value: 1, Destination: &o.Seed, Usage: "seed of the randomized range finder"},
		},
		Action: cli.Action(o, &o.Models, RunDiff),
	}
}

// Validate checks the options of diff. A model may be compared with itself, but -o may be neither.
func (o DiffOptions) Validate() error {
	if len(o.Models) != 2 {
		return cli.Usagef("want A.gguf B.gguf")
	}
	var c cli.Check
	c.Count("--top", o.Top, 1)
	c.Must(o.Sketch >= o.Top, "--sketch %d: want at least --top (%d)", o.Sketch, o.Top)
	c.Count("--exact-max", o.ExactMax, 0)
	c.CountIn("--power-iters", o.PowerIters, 0, maxPowerIters)
	c.Count("--limit", o.Limit, 0)
	c.Must(!(o.Output == "-" && o.JSON), "-o - and --json both want stdout: give -o a file")
	if _, err := regexp.Compile(o.Tensors); err != nil {
		c.Failf("--tensors: %v", err)
	}
	for i, what := range []string{"A.gguf", "B.gguf"} {
		var p cli.Paths // each on its own: A and B may be the same file
		p.In(what, o.Models[i])
		p.Out("-o", o.Output)
		c.Add(p.Err())
	}
	return c.Err()
}

func (o DiffOptions) stage() weightdiff.Options {
	wo := weightdiff.Options{Top: o.Top, ExactMax: o.ExactMax, Sketch: o.Sketch, PowerIters: o.PowerIters, Seed: o.Seed}
	if o.Tensors != "" {
		wo.Tensors = regexp.MustCompile(o.Tensors) // checked by Validate
	}
	return wo
}

// RunDiff compares the two models, writes the weightdiff table with -o and prints the summary or
// the rows as JSON.
func RunDiff(ctx context.Context, env *cli.Env, o DiffOptions) error {
	pa, pb := o.Models[0], o.Models[1]
	fa, err := openGGUF(pa)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := openGGUF(pb)
	if err != nil {
		return err
	}
	defer fb.Close()
	a, b := weightdiff.Model{Path: pa, File: fa}, weightdiff.Model{Path: pb, File: fb}
	wo := o.stage()
	bar := env.Progress("diff", "tensors", int64(len(weightdiff.TensorNames(fa, fb, wo.Tensors))))
	rows, err := weightdiff.Compare(ctx, a, b, wo, func() { bar.Add(1) })
	switch {
	case errors.Is(err, weightdiff.ErrNoTensors):
		return cli.Usagef("no tensor matches --tensors %q", o.Tensors)
	case err != nil:
		return err
	}
	bar.Done()

	if o.Output != "" {
		m := env.Manifest
		for _, p := range o.Models {
			if _, err := cli.RecordFile(env, p, 0); err != nil {
				return err
			}
		}
		m.Param("tensors", o.Tensors)
		m.Param("top", o.Top)
		m.Param("exact_max", o.ExactMax)
		m.Param("sketch", o.Sketch)
		m.Param("power_iters", o.PowerIters)
		m.Seed("sketch", o.Seed)
		if err := cli.WriteTable(env, o.Output, rows); err != nil {
			return err
		}
	}
	counts := weightdiff.Counts(rows)
	compared, onlyA, onlyB := counts[weightdiff.StatusCompared], counts[weightdiff.StatusOnlyA], counts[weightdiff.StatusOnlyB]
	env.Log.Info("compared weights", "tensors", len(rows), "compared", compared, "only_in_a", onlyA,
		"only_in_b", onlyB, "not_comparable", len(rows)-compared-onlyA-onlyB)
	switch {
	case o.JSON:
		return weightdiff.WriteJSON(env.Stdout, rows)
	case o.Output != "-":
		return weightdiff.WriteSummary(env.Stdout, a, b, rows, o.Limit, o.Sketch)
	}
	return nil
}
