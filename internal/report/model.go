package report

// FormatID names the layout of report.json. It changes only with an incompatible change (a field
// removed, renamed or given another meaning); new fields may appear within a version.
const FormatID = "mbd-report/v1"

// Report is the content of a report: report.json is this struct encoded as JSON, and report.html
// and report.md render it. Numbers that are undefined (NaN p-values of unavailable tests, an empty
// run's best q) are null in JSON, never NaN. Slices are empty ([]), not null, except where noted.
type Report struct {
	Format string `json:"format"` // FormatID
	Title  string `json:"title"`
	ModelA Model  `json:"model_a"`
	ModelB Model  `json:"model_b"`
	// Truth is run.json's plain-language description of what was inserted in B; "" when unknown.
	Truth string `json:"truth"`

	Summary Summary `json:"summary"`
	// Hypotheses lists validated hypotheses first (by best q), then the others (by best q, then id).
	Hypotheses []Hypothesis `json:"hypotheses"`
	// Regions are the rows of matches.parquet by rank.
	Regions []Region `json:"regions"`
	// Map describes the 2-D map plot (clusters.parquet + centroids.parquet); null when absent.
	Map *MapInfo `json:"map"`
	// Calibration is calibration.json with its histogram; null when absent.
	Calibration *Calibration `json:"calibration"`
	// Recovery pairs each ground truth with its best hypothesis; null when recovery.parquet is absent.
	Recovery []Recovery `json:"recovery"`
	// WeightDiff is weightdiff.parquet, every column as text; null when absent.
	WeightDiff *GenericTable `json:"weight_diff"`
	// Lens summarises lens.parquet (mbd-model lens) and the first texts of steered.parquet; null
	// when both are absent.
	Lens *Lens `json:"lens"`
	// Inputs lists every file the report looks for, present or not, in a fixed order.
	Inputs []Input `json:"inputs"`
	// Unpaired holds the drop counts of unpaired texts recorded in the clusters' and hypotheses'
	// manifests, where some text was dropped.
	Unpaired []Unpaired `json:"unpaired,omitempty"`
	// Notes are human-readable remarks about missing or partial inputs, in input order.
	Notes []string `json:"notes"`
}

// Model is one side of the comparison.
type Model struct {
	Label string `json:"label"` // label in the tables, normally A or B
	Ref   string `json:"ref"`   // model reference; "" when unknown
}

// Input is one file of the run folder.
type Input struct {
	File    string `json:"file"`              // name inside the run folder
	Present bool   `json:"present"`           // whether the file exists
	Table   string `json:"table,omitempty"`   // schema id (e.g. validations/v1) for tables
	Rows    int64  `json:"rows"`              // rows (tables), lines (trials log), 0 otherwise
	SHA256  string `json:"sha256,omitempty"`  // hex SHA-256 of the file's bytes
	Purpose string `json:"purpose,omitempty"` // what the report uses it for
}

// Summary holds the headline numbers.
type Summary struct {
	Hypotheses int `json:"hypotheses"` // hypotheses proposed (hypotheses.parquet, or those in validations when absent)
	Validated  int `json:"validated"`  // hypotheses with at least one test validated
	// Alpha and Correction are those of validations.parquet (alpha 0.05 when it is absent).
	Alpha      float64  `json:"alpha"`
	Correction string   `json:"correction"`
	Tests      int      `json:"tests"`       // validation tests (rows of validations.parquet)
	TestsRun   int      `json:"tests_run"`   // tests with a p-value (not unavailable)
	BestQ      *float64 `json:"best_q"`      // smallest q of any test; null when none
	BestQTest  string   `json:"best_q_test"` // "HYPOTHESIS_ID/METHOD" of that test
	Regions    int      `json:"regions"`     // rows of matches.parquet
	Differing  int      `json:"differing"`   // regions whose category is not "same"
	// Truths and Recovered count recovery.parquet's rows and its recovered ones; null when absent.
	Truths    *int `json:"truths"`
	Recovered *int `json:"recovered"`
}

// Hypothesis is one hypothesis with its tests.
type Hypothesis struct {
	ID        string   `json:"id"`
	Text      string   `json:"text"`
	Property  string   `json:"property"`
	Direction string   `json:"direction"`
	Kind      string   `json:"kind"`
	Proposer  string   `json:"proposer"`
	Origin    string   `json:"origin"` // texts, region, exemplar, lens or steered; "" when unknown
	ShareA    *float64 `json:"share_a"`
	ShareB    *float64 `json:"share_b"`
	Regions   []int32  `json:"regions"`
	Validated bool     `json:"validated"`
	BestQ     *float64 `json:"best_q"`
	// Tests are its rows of validations.parquet: discriminative, generative, interactive, then any
	// other method by name.
	Tests []Test `json:"tests"`
	// Examples are up to --examples judged pairs (validated hypotheses only): pairs judged for the
	// hypothesis first, by trial.
	Examples []Example `json:"examples"`
	// Transcript is one interactive trial (validated hypotheses only; a correct one first); null
	// when there is none.
	Transcript *Transcript `json:"transcript"`
}

// Test is one row of validations.parquet.
type Test struct {
	Method     string   `json:"method"`
	Judge      string   `json:"judge"`
	N          int64    `json:"n"`
	NInvalid   int64    `json:"n_invalid"`
	StatName   string   `json:"statistic_name"`
	Statistic  *float64 `json:"statistic"`
	EffectName string   `json:"effect_name"`
	Effect     *float64 `json:"effect"`
	CILow      *float64 `json:"ci_low"`
	CIHigh     *float64 `json:"ci_high"`
	P          *float64 `json:"p"`
	Q          *float64 `json:"q"`
	Verdict    string   `json:"verdict"`
	// Baseline is the no-hypothesis judge's accuracy (discriminative); Lift = statistic − baseline.
	Baseline *float64 `json:"baseline"`
	Lift     *float64 `json:"lift"`
}

// Example is one discriminative pair from the trials log.
type Example struct {
	Trial    int    `json:"trial"`
	PromptID string `json:"prompt_id"`
	Prompt   string `json:"prompt"` // "" when neither answers.parquet nor prompts.parquet has it
	// A and B are the pair's answers (answers.parquet); null when absent.
	A *Text `json:"a"`
	B *Text `json:"b"`
	// BFirst: B's answer was shown first in the first order (second order reversed).
	BFirst bool `json:"b_first"`
	// Verdicts are the judge's raw answers in the two orders (first, second, tie, invalid); Picks
	// the model each one picked (A, B, tie or invalid).
	Verdicts []string `json:"verdicts"`
	Picks    []string `json:"picks"`
	Outcome  string   `json:"outcome"`  // for, against, tie or invalid
	Baseline string   `json:"baseline"` // the baseline judge's outcome on the same pair; "" when not run
}

// Text is one answer of an example pair.
type Text struct {
	ID         string `json:"id"`
	Completion string `json:"completion"`
	// Tokens is the token-level evidence; null when scores-a/b lack the text.
	Tokens *TokenEvidence `json:"tokens"`
}

// TokenEvidence is where log p_B − log p_A concentrates in one text: the completion cut at every
// token boundary of either scorer (the same tokens when both share a tokenizer), each piece with
// its log-probability under A and B (a token's log-prob is shared among its pieces by length).
type TokenEvidence struct {
	ScorerA  string    `json:"scorer_a"`
	ScorerB  string    `json:"scorer_b"`
	LogprobA float64   `json:"logprob_a"` // sum over the completion
	LogprobB float64   `json:"logprob_b"`
	Segments []Segment `json:"segments"` // concatenated they give the completion
	// TopB and TopA index Segments: the pieces with the largest positive (B more likely) and the
	// most negative differences, largest first, up to --top-tokens each.
	TopB []int `json:"top_b"`
	TopA []int `json:"top_a"`
}

// Segment is one piece of a scored text.
type Segment struct {
	Text     string  `json:"text"`
	LogprobA float64 `json:"logprob_a"`
	LogprobB float64 `json:"logprob_b"`
	Diff     float64 `json:"diff"` // logprob_b − logprob_a
}

// Transcript is one interactive trial.
type Transcript struct {
	Trial   int    `json:"trial"`
	Hidden  string `json:"hidden"`  // the model the judge questioned (A or B)
	Outcome string `json:"outcome"` // correct, wrong or invalid
	Turns   []Turn `json:"turns"`
}

// Turn is one question and answer.
type Turn struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Region is one row of matches.parquet.
type Region struct {
	Rank       int32    `json:"rank"`
	Region     int32    `json:"region"`
	Category   string   `json:"category"`
	ClusterA   *int32   `json:"cluster_a"`
	ClusterB   *int32   `json:"cluster_b"`
	Similarity *float64 `json:"similarity"`
	CountA     int64    `json:"count_a"`
	TotalA     int64    `json:"total_a"`
	CountB     int64    `json:"count_b"`
	TotalB     int64    `json:"total_b"`
	ShareA     *float64 `json:"share_a"`
	ShareB     *float64 `json:"share_b"`
	ShareDiff  *float64 `json:"share_diff"`
	CohensH    *float64 `json:"cohens_h"`
	P          *float64 `json:"p"`
	Q          *float64 `json:"q"`
}

// MapInfo says what the map plot shows.
type MapInfo struct {
	Clustering []string `json:"clustering"` // the clusterings drawn
	Points     int      `json:"points"`     // texts drawn
	Texts      int      `json:"texts"`      // texts in those clusterings (more than points when thinned)
	Centroids  int      `json:"centroids"`
}

// Calibration is calibration.json (A/A runs) with a histogram of its p-values.
type Calibration struct {
	Runs      int      `json:"runs"`
	Positives int      `json:"positives"` // runs that validated anything
	Alpha     float64  `json:"alpha"`
	Rate      *float64 `json:"rate"` // positives / runs; null when runs is 0
	PValues   int      `json:"p_values"`
	// Bins counts the p-values in [0, 0.1), [0.1, 0.2), ..., [0.9, 1]; under the null each holds
	// about a tenth (discrete tests put fewer near 0).
	Bins []int `json:"bins"`
}

// Recovery is one row of recovery.parquet with the texts it refers to.
type Recovery struct {
	TruthID        string   `json:"truth_id"`
	Behavior       string   `json:"behavior"` // from truths.parquet; "" when absent
	Category       string   `json:"category"`
	HypothesisID   string   `json:"hypothesis_id"` // "" when no hypothesis was assigned
	HypothesisText string   `json:"hypothesis_text"`
	Score          *float64 `json:"score"`
	Method         string   `json:"method"`
	Recovered      bool     `json:"recovered"`
}

// GenericTable is a table of any kind, every value rendered as text.
type GenericTable struct {
	File    string     `json:"file"`
	Table   string     `json:"table"` // schema id from the file's metadata; "" when it has none
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Lens is the activation difference lens of the run (lens.parquet) and its steered texts.
type Lens struct {
	Head        string `json:"head"`        // whose head decoded the tokens listed: B, or A when the table has no B head
	Texts       int    `json:"texts"`       // texts the lens read
	Flips       int    `json:"flips"`       // sign flips of its null
	Significant int    `json:"significant"` // rows of the mean difference marked significant (both heads, every position)
	// Blocks lists, per block, the mean difference averaged over the positions: its norm and its
	// top promoted and suppressed tokens by rank.
	Blocks []LensBlock `json:"blocks"`
	// Norms holds the norm of the mean difference per block and position (-1: averaged).
	Norms []LensNorm `json:"norms"`
	// Steered holds the first texts of steered.parquet; SteeredTotal counts its rows (0 when absent).
	Steered      []SteeredText `json:"steered"`
	SteeredTotal int           `json:"steered_total"`
}

// LensBlock is one block of the lens.
type LensBlock struct {
	Layer      int32       `json:"layer"`
	Norm       float64     `json:"norm"`
	RelNorm    float64     `json:"rel_norm"`
	Promoted   []LensToken `json:"promoted"`
	Suppressed []LensToken `json:"suppressed"`
}

// LensToken is one token of a block.
type LensToken struct {
	Rank        int32    `json:"rank"`
	Token       string   `json:"token"`
	Logit       float64  `json:"logit"`
	Z           *float64 `json:"z"`
	P           *float64 `json:"p"`
	Significant bool     `json:"significant"`
}

// LensNorm is the norm of the mean difference at one block and position.
type LensNorm struct {
	Layer    int32   `json:"layer"`
	Position int32   `json:"position"`
	Norm     float64 `json:"norm"`
	RelNorm  float64 `json:"rel_norm"`
}

// SteeredText is one text of steered.parquet.
type SteeredText struct {
	ID         string `json:"id"`
	Model      string `json:"model"`
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"` // cut to about 800 bytes
}
