package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/cmd/gencmd"
	"github.com/mbd-dev/mbd/internal/cmd/hypocmd"
	"github.com/mbd-dev/mbd/internal/cmd/synthcmd"
	"github.com/mbd-dev/mbd/internal/cmd/validatecmd"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// TestAACalibration runs the builtin pipeline (prompts → discovery answers → mbd-hypo →
// mbd-validate) on 50 A/A pairs of the synthetic base model (the same distribution, other seeds),
// with the describer's threshold lowered so that it proposes (noise) hypotheses, and checks that the share of runs that validate any hypothesis is at most α = 0.05. It also
// checks that the p-values of the tests run are not piled up near 0 (a KS test against the
// uniform: under the null they should be uniform or, for discrete tests, larger).
func TestAACalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("50 pipeline runs")
	}
	const runs, alpha = 50, 0.05
	dir := t.TempDir()
	call := func(main func(context.Context, []string, cli.IO) int, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if rc := main(context.Background(), args, cli.IO{Stdin: bytes.NewReader(nil), Stdout: &out, Stderr: &errb}); rc != 0 {
			t.Fatalf("%v: exit %d\n%s", args, rc, errb.String())
		}
	}
	p := filepath.Join(dir, "prompts.parquet")
	call(synthcmd.Main, "prompts", "-n", "240", "--validation-fraction", "0.5", "-o", p)
	positives, tests := 0, 0
	var ps []float64
	for r := range runs {
		s := func(k int) string { return fmt.Sprintf("synth:base?seed=%d", 1000+10*r+k) }
		a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
		h, v := filepath.Join(dir, "h.parquet"), filepath.Join(dir, "v.parquet")
		call(gencmd.Main, "run", "--split", "discovery", "--model", s(1), "--label", "A", p, "-o", a)
		call(gencmd.Main, "run", "--split", "discovery", "--model", s(2), "--label", "B", p, "-o", b)
		// A low --min-z makes the describer propose noise, so that validation is exercised.
		call(hypocmd.Main, "--min-z", "2", a, b, "-o", h)
		call(validatecmd.Main, "--hypotheses", h, "--prompts", p, "--model-a", s(3), "--model-b", s(4), "-o", v, "--alpha", fmt.Sprint(alpha))
		rows, err := table.ReadAll[schema.Validation](v, nil)
		if err != nil {
			t.Fatal(err)
		}
		any := false
		for _, row := range rows {
			if !math.IsNaN(row.P) {
				tests++
				ps = append(ps, row.P)
			}
			any = any || row.Verdict == "validated"
		}
		if any {
			positives++
		}
	}
	fpr := float64(positives) / runs
	t.Logf("A/A runs: %d of %d validated something (FPR %.3f, α %.2f); %d tests", positives, runs, fpr, alpha, tests)
	if fpr > alpha {
		t.Errorf("false positive rate %.3f > α = %.2f", fpr, alpha)
	}
	// One-sided KS statistic for p-values stochastically smaller than uniform.
	sort.Float64s(ps)
	d := 0.0
	for i, p := range ps {
		d = math.Max(d, float64(i+1)/float64(len(ps))-p)
	}
	if len(ps) > 0 {
		crit := math.Sqrt(-math.Log(0.01) / (2 * float64(len(ps)))) // P(D+ > crit) ≈ 0.01 under uniformity
		var hist [10]int
		for _, p := range ps {
			hist[min(9, int(p*10))]++
		}
		t.Logf("null p-values: n = %d, deciles %v, KS D+ = %.3f (1%% critical value %.3f)", len(ps), hist, d, crit)
		if d > crit {
			t.Errorf("null p-values pile up near 0: D+ = %.3f > %.3f", d, crit)
		}
	}
}
