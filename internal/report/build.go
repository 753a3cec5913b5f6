package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mbd-dev/mbd/internal/schema"
)

// Options tune what a report shows.
type Options struct {
	Title     string // overrides run.json's title
	Examples  int    // example pairs per validated hypothesis
	TopTokens int    // pieces listed per direction in the token-level evidence
	MaxPoints int    // texts drawn on the map at most (thinned evenly by id beyond)
}

// DefaultOptions are the command's defaults.
var DefaultOptions = Options{Examples: 3, TopTokens: 5, MaxPoints: 4000}

// methodOrder ranks the validation methods as the report shows them.
var methodOrder = []string{schema.MethodDiscriminative, schema.MethodGenerative, schema.MethodInteractive}

func methodRank(m string) int {
	if i := slices.Index(methodOrder, m); i >= 0 {
		return i
	}
	return len(methodOrder)
}

// num returns x, or nil when it is NaN or infinite (null in JSON, "n/a" in text).
func num(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// build turns a run folder's content into a Report.
func build(d *runData, opt Options) *Report {
	r := &Report{Format: FormatID, Truth: d.meta.Truth, Hypotheses: []Hypothesis{}, Regions: []Region{},
		Inputs: d.inputs, Notes: []string{}}
	r.ModelA = Model{Label: cmp.Or(d.labA, "A"), Ref: cmp.Or(d.meta.ModelA, d.refA, answerRef(d.answers, "A"))}
	r.ModelB = Model{Label: cmp.Or(d.labB, "B"), Ref: cmp.Or(d.meta.ModelB, d.refB, answerRef(d.answers, "B"))}
	r.Title = cmp.Or(opt.Title, d.meta.Title)
	if r.Title == "" {
		r.Title = "Behaviour diff report"
		if r.ModelA.Ref != "" && r.ModelB.Ref != "" {
			r.Title = fmt.Sprintf("Behaviour diff: %s vs %s", r.ModelA.Ref, r.ModelB.Ref)
		}
	}
	for _, in := range d.inputs {
		if !in.Present {
			r.Notes = append(r.Notes, fmt.Sprintf("%s is absent: no %s.", in.File, in.Purpose))
		}
	}

	r.Unpaired = d.unpaired
	for _, u := range r.Unpaired {
		r.Notes = append(r.Notes, unpairedLine(u, r.ModelA.Label, r.ModelB.Label))
	}
	r.Hypotheses = buildHypotheses(d, opt, &r.Notes)
	r.Regions = buildRegions(d.matches)
	r.Summary = buildSummary(d, r)
	if d.present[fileClusters] {
		sel := selectMap(d.clusters, d.centroids, opt.MaxPoints)
		r.Map = &MapInfo{Clustering: sel.clusterings, Points: len(sel.points), Texts: sel.texts, Centroids: len(sel.centroids)}
		if r.Map.Clustering == nil {
			r.Map.Clustering = []string{}
		}
		if sel.texts > len(sel.points) {
			r.Notes = append(r.Notes, fmt.Sprintf("The map shows %d of %d texts (thinned evenly by id; --max-points).", len(sel.points), sel.texts))
		}
	}
	if c := d.calibration; c != nil {
		cal := &Calibration{Runs: c.Runs, Positives: c.Positives, Alpha: r.Summary.Alpha, PValues: len(c.PValues), Bins: make([]int, 10)}
		if c.Alpha != nil {
			cal.Alpha = *c.Alpha
		}
		if c.Runs > 0 {
			cal.Rate = num(float64(c.Positives) / float64(c.Runs))
		}
		for _, p := range c.PValues {
			cal.Bins[min(9, int(p*10))]++
		}
		r.Calibration = cal
	}
	if d.present[fileRecovery] {
		r.Recovery = buildRecovery(d)
	}
	r.WeightDiff = d.weightDiff
	r.Lens = buildLens(d.lens, d.steered, d.present[fileLens])
	return r
}

func answerRef(gens []schema.Generation, label string) string {
	for _, g := range gens {
		if g.Model == label {
			return g.ModelRef
		}
	}
	return ""
}

func buildSummary(d *runData, r *Report) Summary {
	s := Summary{Alpha: 0.05, Tests: len(d.validations), Regions: len(d.matches)}
	if len(d.validations) > 0 {
		s.Alpha, s.Correction = d.validations[0].Alpha, d.validations[0].Correction
	}
	s.Hypotheses = len(r.Hypotheses)
	for _, h := range r.Hypotheses {
		if h.Validated {
			s.Validated++
		}
	}
	for _, v := range d.validations {
		if math.IsNaN(v.P) {
			continue
		}
		s.TestsRun++
		if q := num(v.Q); q != nil && (s.BestQ == nil || *q < *s.BestQ) {
			s.BestQ, s.BestQTest = q, v.HypothesisID+"/"+v.Method
		}
	}
	for _, m := range d.matches {
		if m.Category != schema.CategorySame {
			s.Differing++
		}
	}
	if d.present[fileRecovery] {
		n, k := len(d.recovery), 0
		for _, rr := range d.recovery {
			if rr.Recovered {
				k++
			}
		}
		s.Truths, s.Recovered = &n, &k
	}
	return s
}

func buildHypotheses(d *runData, opt Options, notes *[]string) []Hypothesis {
	byID := map[string]*Hypothesis{}
	var order []string
	for _, h := range d.hypotheses {
		if _, dup := byID[h.ID]; dup {
			continue
		}
		byID[h.ID] = &Hypothesis{ID: h.ID, Text: h.Text, Property: h.Property, Direction: h.Direction, Kind: h.Kind,
			Proposer: h.Proposer, ShareA: ptrNum(h.ShareA), ShareB: ptrNum(h.ShareB), Regions: orEmpty(h.Regions)}
		if h.Origin != nil {
			byID[h.ID].Origin = *h.Origin
		}
		order = append(order, h.ID)
	}
	validated := schema.ValidatedIDs(d.validations)
	for _, v := range d.validations {
		h, ok := byID[v.HypothesisID]
		if !ok {
			h = &Hypothesis{ID: v.HypothesisID, Text: "(not in " + fileHypotheses + ")", Regions: []int32{}}
			byID[v.HypothesisID] = h
			order = append(order, v.HypothesisID)
		}
		t := Test{Method: v.Method, Judge: v.Judge, N: v.N, NInvalid: v.NInvalid, StatName: v.StatName, Statistic: num(v.Statistic),
			EffectName: v.EffectName, Effect: num(v.Effect), CILow: num(v.CILow), CIHigh: num(v.CIHigh), P: num(v.P), Q: num(v.Q),
			Verdict: v.Verdict, Baseline: ptrNum(v.Baseline)}
		if t.Baseline != nil && t.Statistic != nil {
			t.Lift = num(*t.Statistic - *t.Baseline)
		}
		h.Tests = append(h.Tests, t)
		h.Validated = validated[v.HypothesisID]
		if t.Q != nil && (h.BestQ == nil || *t.Q < *h.BestQ) {
			h.BestQ = t.Q
		}
	}
	out := make([]Hypothesis, 0, len(order))
	for _, id := range order {
		h := byID[id]
		if h.Tests == nil {
			h.Tests = []Test{}
		}
		slices.SortStableFunc(h.Tests, func(x, y Test) int {
			return cmp.Or(cmp.Compare(methodRank(x.Method), methodRank(y.Method)), strings.Compare(x.Method, y.Method))
		})
		h.Examples = []Example{}
		out = append(out, *h)
	}
	slices.SortStableFunc(out, func(x, y Hypothesis) int {
		if x.Validated != y.Validated {
			if x.Validated {
				return -1
			}
			return 1
		}
		switch {
		case x.BestQ != nil && y.BestQ == nil:
			return -1
		case x.BestQ == nil && y.BestQ != nil:
			return 1
		case x.BestQ != nil && *x.BestQ != *y.BestQ:
			return cmp.Compare(*x.BestQ, *y.BestQ)
		}
		return strings.Compare(x.ID, y.ID)
	})

	// Examples and transcripts of the validated hypotheses.
	answers := map[string]*schema.Generation{}
	for i := range d.answers {
		if _, dup := answers[d.answers[i].ID]; !dup {
			answers[d.answers[i].ID] = &d.answers[i]
		}
	}
	prompts := map[string]string{}
	for _, p := range d.prompts {
		prompts[p.ID] = p.Text
	}
	scoresA, scoresB := indexScores(d.scoresA), indexScores(d.scoresB)
	for i := range out {
		h := &out[i]
		if !h.Validated {
			continue
		}
		h.Examples = examplesOf(h.ID, d.trials, opt, answers, prompts, scoresA, scoresB, notes)
		h.Transcript = transcriptOf(h.ID, d.trials)
	}
	return out
}

func ptrNum(p *float64) *float64 {
	if p == nil {
		return nil
	}
	return num(*p)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func indexScores(rows []schema.Score) map[string]*schema.Score {
	m := map[string]*schema.Score{}
	for i := range rows {
		if _, dup := m[rows[i].GenerationID]; !dup {
			m[rows[i].GenerationID] = &rows[i]
		}
	}
	return m
}

// picks says which model each order's verdict picked: in the first order B's answer comes first
// when bFirst, and the second order is the reverse.
func picks(verdicts []string, bFirst bool) []string {
	out := make([]string, len(verdicts))
	for i, v := range verdicts {
		firstIsB := bFirst == (i%2 == 0)
		switch v {
		case "first", "second":
			if (v == "first") == firstIsB {
				out[i] = "B"
			} else {
				out[i] = "A"
			}
		default:
			out[i] = v
		}
	}
	return out
}

func examplesOf(id string, trials []trial, opt Options, answers map[string]*schema.Generation, prompts map[string]string,
	scoresA, scoresB map[string]*schema.Score, notes *[]string) []Example {
	var cands []trial
	baseline := map[int]string{}
	for _, t := range trials {
		if t.Hypothesis != id || t.Method != schema.MethodDiscriminative {
			continue
		}
		if t.Baseline {
			baseline[t.Trial] = t.Outcome
			continue
		}
		cands = append(cands, t)
	}
	// Pairs judged for the hypothesis first, then ties, against and invalid; by trial within.
	outcomeRank := map[string]int{"for": 0, "tie": 1, "against": 2}
	rank := func(o string) int {
		if r, ok := outcomeRank[o]; ok {
			return r
		}
		return 3
	}
	slices.SortStableFunc(cands, func(x, y trial) int {
		return cmp.Or(cmp.Compare(rank(x.Outcome), rank(y.Outcome)), cmp.Compare(x.Trial, y.Trial))
	})
	out := []Example{}
	for _, t := range cands[:min(opt.Examples, len(cands))] {
		e := Example{Trial: t.Trial, PromptID: t.PromptID, Verdicts: orEmpty(t.Verdicts), Outcome: t.Outcome, Baseline: baseline[t.Trial]}
		if t.BFirst != nil {
			e.BFirst = *t.BFirst
		}
		e.Picks = picks(e.Verdicts, e.BFirst)
		e.Prompt = prompts[t.PromptID]
		for _, side := range []struct {
			id  string
			dst **Text
		}{{t.AID, &e.A}, {t.BID, &e.B}} {
			g, ok := answers[side.id]
			if !ok {
				continue
			}
			if e.Prompt == "" {
				e.Prompt = g.Prompt
			}
			txt := &Text{ID: g.ID, Completion: g.Completion}
			sa, okA := scoresA[g.ID]
			sb, okB := scoresB[g.ID]
			if okA && okB {
				ev, err := tokenEvidence(sa, sb, opt.TopTokens)
				if err != nil {
					*notes = append(*notes, fmt.Sprintf("No token-level evidence for text %s: %v.", g.ID, err))
				} else {
					txt.Tokens = ev
				}
			}
			*side.dst = txt
		}
		out = append(out, e)
	}
	return out
}

func transcriptOf(id string, trials []trial) *Transcript {
	var best *trial
	for i := range trials {
		t := &trials[i]
		if t.Hypothesis != id || t.Method != schema.MethodInteractive || len(t.Turns) == 0 {
			continue
		}
		if best == nil || (t.Outcome == "correct" && best.Outcome != "correct") {
			best = t
		}
	}
	if best == nil {
		return nil
	}
	return &Transcript{Trial: best.Trial, Hidden: best.Hidden, Outcome: best.Outcome, Turns: best.Turns}
}

func buildRegions(ms []schema.Match) []Region {
	out := make([]Region, 0, len(ms))
	for _, m := range ms {
		r := Region{Rank: m.Rank, Region: m.Region, Category: m.Category, ClusterA: m.ClusterA, ClusterB: m.ClusterB,
			Similarity: ptrNum(m.Similarity), CountA: m.CountA, TotalA: m.TotalA, CountB: m.CountB, TotalB: m.TotalB,
			ShareDiff: num(m.ShareDiff), CohensH: num(m.CohensH), P: num(m.P), Q: num(m.Q)}
		if m.TotalA > 0 {
			r.ShareA = num(float64(m.CountA) / float64(m.TotalA))
		}
		if m.TotalB > 0 {
			r.ShareB = num(float64(m.CountB) / float64(m.TotalB))
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(x, y Region) int {
		return cmp.Or(cmp.Compare(x.Rank, y.Rank), cmp.Compare(x.Region, y.Region))
	})
	return out
}

func buildRecovery(d *runData) []Recovery {
	truths := map[string]schema.Truth{}
	for _, t := range d.truths {
		truths[t.ID] = t
	}
	hyps := map[string]string{}
	for _, h := range d.hypotheses {
		hyps[h.ID] = h.Text
	}
	out := make([]Recovery, 0, len(d.recovery))
	for _, rr := range d.recovery {
		t := truths[rr.TruthID]
		e := Recovery{TruthID: rr.TruthID, Behavior: t.Behavior, Category: t.Category, Score: num(rr.Score), Method: rr.Method, Recovered: rr.Recovered}
		if rr.HypothesisID != nil {
			e.HypothesisID, e.HypothesisText = *rr.HypothesisID, hyps[*rr.HypothesisID]
		}
		out = append(out, e)
	}
	return out
}
