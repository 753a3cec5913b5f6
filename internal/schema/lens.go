package schema

// Lens is the lens table: the mean difference of two models' residual activations on the first
// tokens of neutral texts, read through a final norm and unembedding (mbd-model lens).
var Lens = newTable[LensRow]("lens", 1,
	"One token read from a direction in the residual stream of two models A and B on the same texts: "+
		"the mean difference B - A of a block's output at one token position (or averaged over the "+
		"positions), or a principal direction of the per-text differences, decoded through a final norm "+
		"and unembedding (logit lens). The tokens the direction promotes and suppresses most, with a "+
		"z-score against a sign-flip null made from the same texts. Written by mbd-model lens.")

// Values of the lens table's enumerated columns.
const (
	// LensRow.Direction (besides LensPC + "1", "2", ...).
	LensMean = "mean" // the mean difference B - A over the texts
	LensPC   = "pc"   // prefix of a principal direction of the per-text differences: pc1, pc2, ...

	// LensRow.Side.
	LensPromoted   = "promoted"
	LensSuppressed = "suppressed"
)

// LensRow is a row of the lens table.
type LensRow struct {
	Layer         int32    `parquet:"layer" doc:"Transformer block whose output (the residual stream after it; llama.cpp's l_out-N) was read, from 0."`
	Position      int32    `parquet:"position" doc:"Token position in the text, from 0 for the first token after BOS; -1 for the average over the positions read."`
	Direction     string   `parquet:"direction,dict" doc:"mean: the mean difference B - A over the texts; pc1, pc2, ...: the principal directions of the per-text differences (each text's difference averaged over the positions; position -1), oriented along the mean difference."`
	Head          string   `parquet:"head,dict" doc:"Whose final norm and unembedding decoded the direction: B or A."`
	Side          string   `parquet:"side,dict" doc:"promoted (the direction raises the token's logit most) or suppressed (lowers it most)."`
	Rank          int32    `parquet:"rank" doc:"1 for the token with the largest logit (promoted) or the smallest (suppressed)."`
	TokenID       int32    `parquet:"token_id" doc:"Token id in the shared vocabulary."`
	Token         string   `parquet:"token" doc:"The token's text."`
	Logit         float64  `parquet:"logit" doc:"Logit lens: element token_id of W_out · (g ⊙ v / rms(v)), v the direction, g and W_out the head's final RMSNorm weight and output matrix."`
	Z             *float64 `parquet:"z,optional" doc:"Mean direction: (logit - its mean over the sign flips) / its standard deviation over them, the flipped differences scaled by the observed one's final norm; at most about sqrt(texts); usually negative for suppressed tokens. Null for principal directions and when the flips do not move the logit."`
	P             *float64 `parquet:"p,optional" doc:"Permutation p-value adjusted over the vocabulary (max-T): (1 + flips whose most extreme z over all tokens reaches this token's) / (1 + flips). Null when z is."`
	Significant   bool     `parquet:"significant" doc:"p at most alpha."`
	Norm          float64  `parquet:"norm" doc:"Mean direction: the Euclidean norm of the mean difference; principal direction: the standard deviation of the per-text differences along it."`
	RelNorm       float64  `parquet:"rel_norm" doc:"norm / the root-mean-square norm of A's activations at this layer and position."`
	VarianceShare *float64 `parquet:"variance_share,optional" doc:"Principal directions: the share of the per-text differences' variance along this one. Null for the mean."`
	Texts         int32    `parquet:"texts" doc:"Texts read (those with at least as many tokens as the positions read)."`
	Flips         int32    `parquet:"flips" doc:"Sign-flip permutations of the null."`
}

func (LensRow) Table() *Table { return Lens }
