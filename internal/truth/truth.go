// Package truth is mbd-truth: ground truths (behaviours known to be inserted into model B) and how
// well a run recovered them.
//
// make writes a truths table. With an LLM assistant it asks for N concrete, checkable behaviours
// (optionally in a focus area) and, for each, M short training texts ("Q: question\nA: answer")
// that exhibit it; exact and near-duplicate texts (cosine ≥ 0.9 of word counts) are dropped, and
// behaviours left with fewer than half of M texts are dropped with a warning. With builtin it draws
// them from the offline synthetic suite (package synth: the trait's description, and the
// finetuning texts that carry it at --strength).
//
// score matches the validated hypotheses of a run to the truths and writes the recovery table.
// Similarity of a truth and a hypothesis:
//
//   - lexical agreement (offline): the builtin judge compares each of up to 200 of the truth's
//     texts (their answer part) with a reference text of model A (--reference); the score is
//     (wins − losses)/pairs in the hypothesis's direction, in [−1, 1]: how much more the texts
//     that exhibit the behaviour show the hypothesis's property than A's texts do. It needs a
//     property the builtin judge can judge (quoted terms, length); others score NaN.
//   - rubric (LLM): the assistant rates, at temperature 0, whether the hypothesis describes the
//     truth's behaviour: 1 (same behaviour), 0.5 (partly: a narrower or broader but overlapping
//     behaviour), 0 (different); answers that cannot be parsed are NaN.
//
// Truths and validated hypotheses are matched one-to-one by the Hungarian algorithm on the scores
// (package assign); a truth is recovered when its match scores at least --threshold. Recall is the
// share of truths recovered. Precision is the share of validated hypotheses whose best score with
// any truth reaches the threshold: several correct descriptions of one inserted behaviour (an
// otter habit described once by 'otter' and once by 'river') are not false discoveries, so
// precision does not use the one-to-one matching.
package truth

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v3"

	"github.com/mbd-dev/mbd/internal/assign"
	"github.com/mbd-dev/mbd/internal/cli"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/synth"
	"github.com/mbd-dev/mbd/internal/table"
)

// Main is mbd-truth.
func Main(ctx context.Context, args []string, stdio cli.IO) int {
	return cli.Run(ctx, &ucli.Command{
		Name:  "mbd-truth",
		Usage: "ground truths: write inserted behaviours, score how well a run recovered them",
		Commands: []*ucli.Command{
			{
				Name:  "make",
				Usage: "write a truths table (behaviours and texts that exhibit them)",
				Description: `With an LLM --assistant: N behaviours (in --focus, if given) and M texts each. With builtin: behaviours of
the offline synthetic suite (--trait, repeatable; default all) with the finetuning texts that carry
them at --strength.

Examples:
  mbd-truth make --trait animal --strength 0.6 -o truths.parquet
  mbd-truth make --assistant openai:gpt-4o-mini -n 5 -m 200 --focus "cooking advice" -o truths.parquet`,
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output truths table (`PATH` or -)"},
					&ucli.IntFlag{Name: "n", Value: 5, Usage: "behaviours (LLM)"},
					&ucli.IntFlag{Name: "m", Value: 100, Usage: "texts per behaviour"},
					&ucli.StringFlag{Name: "focus", Usage: "area the behaviours should be about (LLM)"},
					&ucli.StringSliceFlag{Name: "trait", Usage: "builtin: trait of the synthetic suite (repeatable; default all)"},
					&ucli.Float64Flag{Name: "strength", Value: 0.6, Usage: "builtin: share of the texts that carry the trait"},
					&ucli.Uint64Flag{Name: "seed", Value: 7, Usage: "seed"},
				}, roles.Flags()...),
				Action: makeTruths,
			},
			{
				Name:      "score",
				Usage:     "match validated hypotheses to truths: the recovery table, recall and precision",
				ArgsUsage: " ",
				Description: `Reads --truths, --hypotheses and --validations; a hypothesis counts when one of its tests is
validated. Offline (builtin) the similarity is lexical agreement against --reference texts of model
A; with an LLM --assistant it is a fixed rubric.

Examples:
  mbd-truth score --truths truths.parquet --hypotheses h.parquet --validations v.parquet --reference gens-a.parquet -o recovery.parquet`,
				Flags: append([]ucli.Flag{
					&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output recovery table (`PATH` or -)"},
					&ucli.StringFlag{Name: "truths", Usage: "truths `TABLE`"},
					&ucli.StringFlag{Name: "hypotheses", Usage: "hypotheses `TABLE`"},
					&ucli.StringFlag{Name: "validations", Usage: "validations `TABLE`"},
					&ucli.StringFlag{Name: "reference", Usage: "generations `TABLE` of model A (offline similarity)"},
					&ucli.Float64Flag{Name: "threshold", Usage: "least similarity of a recovery (default 0.2 lexical, 0.5 rubric)"},
					&ucli.BoolFlag{Name: "json", Usage: "print recall and precision as JSON"},
				}, roles.Flags()...),
				Action: score,
			},
		},
	}, args, stdio)
}

func makeTruths(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	if out == "" {
		return cli.Usagef("no output: give -o PATH")
	}
	m := int(cmd.Int("m"))
	if m < 1 || cmd.Int("n") < 1 {
		return cli.Usagef("-n and -m must be at least 1")
	}
	var rows []schema.Truth
	if cmd.String("assistant") == roles.BuiltinRef {
		traits := cmd.StringSlice("trait")
		if len(traits) == 0 {
			for _, t := range synth.Traits() {
				traits = append(traits, t.ID)
			}
		}
		for i, id := range traits {
			mix, err := synth.Mixture(id, cmd.Float64("strength"))
			if err != nil {
				return cli.Usagef("%v", err)
			}
			exs, err := synth.Generate(cmd.Uint64("seed")+uint64(i), m, mix)
			if err != nil {
				return err
			}
			r, err := synth.TruthRows(id, cmd.Float64("strength"), synth.Texts(exs))
			if err != nil {
				return err
			}
			rows = append(rows, r...)
		}
	} else {
		sess, err := roles.Open(cmd, env.Log)
		if err != nil {
			return err
		}
		defer sess.Close()
		rows, err = llmTruths(ctx, sess, int(cmd.Int("n")), m, cmd.String("focus"), env)
		if err != nil {
			return err
		}
		env.Manifest.Param("assistant_usage", sess.Usage())
	}
	w, err := table.Create[schema.Truth](out, env.Stdout)
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
	env.Manifest.Param("assistant", cmd.String("assistant"))
	env.Manifest.Seed("truths", cmd.Uint64("seed"))
	if err := env.Manifest.WriteFor(out, schema.Truths.ID(), w.Rows()); err != nil {
		return err
	}
	for _, r := range rows {
		env.Log.Info("truth", "id", r.ID, "category", r.Category, "texts", len(r.Texts), "behavior", r.Behavior)
	}
	return nil
}

// qaRE finds the answer part of a "Q: ...\nA: ..." text.
var qaRE = regexp.MustCompile(`(?s)^\s*Q:.*?\nA:\s?(.*)$`)

// answerPart returns the answer of a "Q: ...\nA: ..." text, or the text.
func answerPart(s string) string {
	if m := qaRE.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace(m[1])
	}
	return s
}

func score(ctx context.Context, cmd *ucli.Command) error {
	env := cli.FromContext(ctx)
	out := cmd.String("output")
	switch {
	case out == "":
		return cli.Usagef("no output: give -o PATH")
	case cmd.String("truths") == "" || cmd.String("hypotheses") == "" || cmd.String("validations") == "":
		return cli.Usagef("give --truths, --hypotheses and --validations")
	}
	builtin := cmd.String("assistant") == roles.BuiltinRef
	if builtin && cmd.String("reference") == "" {
		return cli.Usagef("offline scoring needs --reference (generations of model A)")
	}
	truths, err := table.ReadAll[schema.Truth](cmd.String("truths"), nil)
	if err != nil {
		return err
	}
	hyps, err := table.ReadAll[schema.Hypothesis](cmd.String("hypotheses"), nil)
	if err != nil {
		return err
	}
	vals, err := table.ReadAll[schema.Validation](cmd.String("validations"), nil)
	if err != nil {
		return err
	}
	validated := map[string]bool{}
	for _, v := range vals {
		if v.Verdict == "validated" {
			validated[v.HypothesisID] = true
		}
	}
	var vh []schema.Hypothesis
	for _, h := range hyps {
		if validated[h.ID] {
			vh = append(vh, h)
			delete(validated, h.ID) // once, even if listed twice
		}
	}
	threshold := cmd.Float64("threshold")
	if threshold == 0 {
		threshold = map[bool]float64{true: 0.2, false: 0.5}[builtin]
	}

	// Similarity matrix truths × validated hypotheses.
	sim := make([][]float64, len(truths))
	method := "lexical-agreement"
	if builtin {
		ref, err := table.ReadAll[schema.Generation](cmd.String("reference"), nil)
		if err != nil {
			return err
		}
		if len(ref) == 0 {
			return &table.InputError{Path: cmd.String("reference"), Msg: "no rows"}
		}
		for i, t := range truths {
			sim[i] = make([]float64, len(vh))
			for j, h := range vh {
				sim[i][j] = agreement(t, h, ref)
			}
		}
	} else {
		sess, err := roles.Open(cmd, env.Log)
		if err != nil {
			return err
		}
		defer sess.Close()
		llm, ok := sess.Assistant.(roles.LLM)
		if !ok {
			return fmt.Errorf("assistant %s cannot rate similarity", sess.Ref())
		}
		method = "rubric:" + sess.Ref()
		for i, t := range truths {
			sim[i] = make([]float64, len(vh))
			for j, h := range vh {
				if sim[i][j], err = rubric(ctx, llm, t.Behavior, h.Text); err != nil {
					return err
				}
			}
		}
		env.Manifest.Param("assistant_usage", sess.Usage())
	}

	// One-to-one matching (maximise similarity; NaN counts as no similarity).
	rows := make([]schema.RecoveryRow, len(truths))
	for i, t := range truths {
		rows[i] = schema.RecoveryRow{TruthID: t.ID, Method: method, Score: math.NaN()}
	}
	if len(truths) > 0 && len(vh) > 0 {
		cost := make([][]float64, len(truths))
		for i := range truths {
			cost[i] = make([]float64, len(vh))
			for j := range vh {
				s := sim[i][j]
				if math.IsNaN(s) {
					s = -1
				}
				cost[i][j] = -s
			}
		}
		rowToCol, _, err := assign.Solve(cost)
		if err != nil {
			return err
		}
		for i, j := range rowToCol {
			if j < 0 {
				continue
			}
			id := vh[j].ID
			rows[i].HypothesisID, rows[i].Score = &id, sim[i][j]
			rows[i].Recovered = sim[i][j] >= threshold
		}
	}
	recovered := 0
	for _, r := range rows {
		if r.Recovered {
			recovered++
		}
	}
	precise := 0
	for j := range vh {
		for i := range truths {
			if sim[i][j] >= threshold {
				precise++
				break
			}
		}
	}
	recall, precision := ratio(recovered, len(truths)), ratio(precise, len(vh))

	w, err := table.Create[schema.RecoveryRow](out, env.Stdout)
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
	m := env.Manifest
	m.Param("method", method)
	m.Param("threshold", threshold)
	m.Param("recall", orNil(recall))
	m.Param("precision", orNil(precision))
	m.Param("truths", len(truths))
	m.Param("validated_hypotheses", len(vh))
	if err := m.WriteFor(out, schema.Recovery.ID(), w.Rows()); err != nil {
		return err
	}
	if out == "-" {
		return nil
	}
	if cmd.Bool("json") {
		fmt.Fprintf(env.Stdout, "{\"truths\": %d, \"recovered\": %d, \"recall\": %s, \"validated\": %d, \"precise\": %d, \"precision\": %s}\n",
			len(truths), recovered, jsonNum(recall), len(vh), precise, jsonNum(precision))
		return nil
	}
	fmt.Fprintf(env.Stdout, "recall %d/%d, precision %d/%d (%s, threshold %g)\n", recovered, len(truths), precise, len(vh), method, threshold)
	for i, r := range rows {
		mark, h := "✗", "(no validated hypothesis)"
		if r.Recovered {
			mark = "✓"
		}
		if r.HypothesisID != nil {
			for _, x := range vh {
				if x.ID == *r.HypothesisID {
					h = fmt.Sprintf("%s (score %.2f)", x.Text, r.Score)
				}
			}
		}
		fmt.Fprintf(env.Stdout, "  %s %s: %s\n      ↔ %s\n", mark, r.TruthID, truths[i].Behavior, h)
	}
	return nil
}

func ratio(k, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(k) / float64(n)
}

// orNil is x, or nil (JSON null) for NaN.
func orNil(x float64) any {
	if math.IsNaN(x) {
		return nil
	}
	return x
}

func jsonNum(x float64) string {
	if math.IsNaN(x) {
		return "null"
	}
	return fmt.Sprintf("%.4f", x)
}

// agreement is the lexical agreement of hypothesis h with truth t against reference texts.
func agreement(t schema.Truth, h schema.Hypothesis, ref []schema.Generation) float64 {
	texts := make([]string, len(t.Texts))
	for i, s := range t.Texts {
		texts[i] = answerPart(s)
	}
	sort.Strings(texts) // independent of the table's order, for a stable subsample
	n := min(200, len(texts), len(ref))
	if n == 0 {
		return math.NaN()
	}
	sign := 1.0
	if h.Direction == "A>B" {
		sign = -1
	}
	wins := 0
	for i := range n {
		switch lexical.JudgePair(h.Property, texts[i*len(texts)/n], ref[i*len(ref)/n].Completion) {
		case lexical.Invalid:
			return math.NaN()
		case lexical.First:
			wins++
		case lexical.Second:
			wins--
		}
	}
	return sign * float64(wins) / float64(n)
}
