package schema

// The tables of the pipeline, in the order data flows through them.
var (
	Prompts = newTable[Prompt]("prompts", 1,
		"One prompt to put to both models. Written by mbd-prompts; read by mbd-gen. The split decides "+
			"whether texts made from the prompt may propose hypotheses (discovery) or only test them (validation).")
	Generations = newTable[Generation]("generations", 1,
		"One completion of one prompt by one model. Written by mbd-gen (generation or import); read by "+
			"mbd-embed, mbd-hypo, mbd-validate and mbd-report.")
	Scores = newTable[Score]("scores", 1,
		"The teacher-forced log-probability of one generation's completion, given its prompt, under one "+
			"scoring model, token by token. Written by mbd-model score; read by mbd-report "+
			"(token-level evidence: where log p_B - log p_A concentrates).")
	Embeddings = newTable[Embedding]("embeddings", 1,
		"One L2-normalised embedding of one generation. Written by mbd-embed; read by mbd-cluster.")
	Clusters = newTable[Cluster]("clusters", 1,
		"The cluster one generation was assigned to by one clustering, with its 2-D map position. "+
			"Written by mbd-cluster; read by mbd-match and mbd-report.")
	Centroids = newTable[Centroid]("centroids", 1,
		"One cluster's centre and size. Written by mbd-cluster; read by mbd-match and mbd-report.")
	Matches = newTable[Match]("matches", 1,
		"One behaviour region: a pooled cluster or a matched pair of per-model clusters, with the counts "+
			"of each model's texts in it and a test of equal shares. Written by mbd-match; read by mbd-hypo and mbd-report.")
	Hypotheses = newTable[Hypothesis]("hypotheses", 1,
		"One plain-language, testable statement of how model B differs from model A. Written by mbd-hypo; "+
			"read by mbd-validate, mbd-truth score and mbd-report.")
	Validations = newTable[Validation]("validations", 1,
		"One statistical test of one hypothesis on held-out prompts, with its multiple-comparison-adjusted "+
			"q-value and verdict. Written by mbd-validate; read by mbd-truth score and mbd-report.")
	Truths = newTable[Truth]("truths", 1,
		"One known, inserted behaviour (ground truth) and the training texts that exhibit it. Written by "+
			"mbd-truth make; read by mbd-finetune and mbd-truth score.")
	Recovery = newTable[RecoveryRow]("recovery", 1,
		"One pairing of a ground truth with the hypothesis that best recovers it (or none). Written by "+
			"mbd-truth score; read by mbd-report.")
	WeightDiffs = newTable[WeightDiff]("weightdiff", 1,
		"One tensor of two GGUF models A and B compared weight by weight: the relative size of the "+
			"difference B - A and, for matrices, its singular values, how many directions carry 90% of it "+
			"and how far a rank-1 update is from it. Written by mbd-model diff.")
)

// All lists every table, in pipeline order.
var All = []*Table{Prompts, Generations, Scores, Embeddings, Clusters, Centroids, Matches, Hypotheses, Validations, Truths, Recovery, WeightDiffs, Lens}

// Prompt is a row of the prompts table.
type Prompt struct {
	ID       string `parquet:"id" doc:"Stable id: the first 16 hex digits of SHA-256 of the text."`
	Text     string `parquet:"text" doc:"The prompt as the user wrote it (no chat template applied)."`
	Source   string `parquet:"source,dict" doc:"Where the prompt came from: builtin:bank or the input file's name."`
	Category string `parquet:"category,dict" doc:"Free-form category (e.g. advice, code); empty when unknown."`
	Split    string `parquet:"split,dict" doc:"discovery or validation, from a stable hash of the id and the split seed."`
}

// Generation is a row of the generations table.
type Generation struct {
	ID               string   `parquet:"id" doc:"Stable id: the first 16 hex digits of SHA-256 of model, prompt_id and sample."`
	Model            string   `parquet:"model,dict" doc:"Label of the model in this comparison, usually A or B."`
	ModelRef         string   `parquet:"model_ref,dict" doc:"Reference of the model that wrote the text (gguf:path, openai-compat:URL#name, import:FILE ...)."`
	PromptID         string   `parquet:"prompt_id" doc:"id of the prompt in the prompts table."`
	Split            string   `parquet:"split,dict" doc:"Split of the prompt: discovery or validation."`
	Sample           int32    `parquet:"sample" doc:"Index of this sample among the samples of the same prompt and model, from 0."`
	Seed             int64    `parquet:"seed" doc:"Sampling seed of this completion; 0 for imported texts whose seed is unknown."`
	Prompt           string   `parquet:"prompt" doc:"The prompt text as given to the model, before any chat template."`
	Completion       string   `parquet:"completion" doc:"The model's completion."`
	PromptTokens     *int32   `parquet:"prompt_tokens,optional" doc:"Tokens in the prompt after templating; null when unknown (imported)."`
	CompletionTokens *int32   `parquet:"completion_tokens,optional" doc:"Tokens in the completion; null when unknown (imported)."`
	FinishReason     string   `parquet:"finish_reason,dict" doc:"stop (end of text or stop string), length (token limit) or unknown."`
	LogprobSum       *float64 `parquet:"logprob_sum,optional" doc:"Sum of the natural-log probabilities of the completion tokens under the generating model; null when unknown."`
	LogprobMean      *float64 `parquet:"logprob_mean,optional" doc:"logprob_sum divided by completion_tokens; null when unknown."`
}

// Score is a row of the scores table.
type Score struct {
	GenerationID string    `parquet:"generation_id" doc:"id of the scored generation."`
	Scorer       string    `parquet:"scorer,dict" doc:"Reference of the scoring model (gguf:path?system=..., openai-compat:URL#name)."`
	PromptTokens int32     `parquet:"prompt_tokens" doc:"Tokens of the prompt after the scorer's chat template."`
	Tokens       []string  `parquet:"tokens,list" doc:"The completion's tokens as text, in order (concatenated they give the completion)."`
	Logprobs     []float32 `parquet:"logprobs,list" doc:"Natural-log probability of each completion token given everything before it."`
	LogprobSum   float64   `parquet:"logprob_sum" doc:"Sum of logprobs (computed in float64)."`
	LogprobMean  float64   `parquet:"logprob_mean" doc:"logprob_sum divided by the number of tokens; 0 for an empty completion."`
}

// Embedding is a row of the embeddings table.
type Embedding struct {
	GenerationID string    `parquet:"generation_id" doc:"id of the embedded generation."`
	Embedder     string    `parquet:"embedder,dict" doc:"Reference of the embedder and its settings (builtin:lsa?dim=64, gguf:path?pool=mean ...)."`
	TextHash     string    `parquet:"text_hash" doc:"First 16 hex digits of SHA-256 of the exact text embedded (the cache key with the embedder)."`
	Vector       []float32 `parquet:"vector,list" doc:"The embedding, L2-normalised."`
}

// Cluster is a row of the clusters table.
type Cluster struct {
	GenerationID string  `parquet:"generation_id" doc:"id of the clustered generation."`
	Model        string  `parquet:"model,dict" doc:"Model label of the generation."`
	Clustering   string  `parquet:"clustering,dict" doc:"Which clustering: pooled, per-model:A, per-model:B or by-prompt, with its method."`
	Cluster      int32   `parquet:"cluster" doc:"Cluster id within the clustering, from 0; -1 for noise points of density methods."`
	Distance     float32 `parquet:"distance" doc:"Cosine distance to the cluster centroid."`
	X            float32 `parquet:"x" doc:"First coordinate of the 2-D map (PCA of the embeddings)."`
	Y            float32 `parquet:"y" doc:"Second coordinate of the 2-D map."`
}

// Centroid is a row of the centroids table.
type Centroid struct {
	Clustering string    `parquet:"clustering,dict" doc:"Which clustering the cluster belongs to (as in the clusters table)."`
	Cluster    int32     `parquet:"cluster" doc:"Cluster id within the clustering."`
	Size       int64     `parquet:"size" doc:"Number of generations assigned to the cluster."`
	Vector     []float32 `parquet:"vector,list" doc:"The centroid, L2-normalised mean of its members."`
	X          float32   `parquet:"x" doc:"First map coordinate of the centroid."`
	Y          float32   `parquet:"y" doc:"Second map coordinate of the centroid."`
}

// Match is a row of the matches table.
type Match struct {
	Region     int32     `parquet:"region" doc:"Region id, unique in the table."`
	Rank       int32     `parquet:"rank" doc:"Rank of the region by how worth describing it is (1 = first)."`
	Category   string    `parquet:"category,dict" doc:"same, shifted, only-in-A or only-in-B."`
	ClusterA   *int32    `parquet:"cluster_a,optional" doc:"Cluster of model A's clustering (the pooled cluster in pooled mode); null for only-in-B."`
	ClusterB   *int32    `parquet:"cluster_b,optional" doc:"Cluster of model B's clustering (the pooled cluster in pooled mode); null for only-in-A."`
	Similarity *float64  `parquet:"similarity,optional" doc:"Cosine similarity of the matched centroids; null in pooled mode and for unmatched clusters."`
	CountA     int64     `parquet:"count_a" doc:"Texts of model A in the region."`
	CountB     int64     `parquet:"count_b" doc:"Texts of model B in the region."`
	TotalA     int64     `parquet:"total_a" doc:"All texts of model A in the clustering."`
	TotalB     int64     `parquet:"total_b" doc:"All texts of model B in the clustering."`
	ShareDiff  float64   `parquet:"share_diff" doc:"count_b/total_b - count_a/total_a."`
	CohensH    float64   `parquet:"cohens_h" doc:"Cohen's h of the two shares (B minus A)."`
	Test       string    `parquet:"test,dict" doc:"Test of equal shares: fisher (exact, two-sided) or chi2 (Pearson, 1 df)."`
	P          float64   `parquet:"p" doc:"Two-sided p-value of the test."`
	Q          float64   `parquet:"q" doc:"Benjamini-Hochberg q-value over all regions of the table."`
	SampleIDs  []string  `parquet:"sample_ids,list" doc:"ids of discovery-split generations in the region, for describing it."`
	Nearest    []int32   `parquet:"nearest,list" doc:"Per-model mode: the clusters of the other model nearest to this region's cluster, nearest first (B's clusters for regions with an A cluster, else A's); empty in pooled mode."`
	NearestSim []float64 `parquet:"nearest_similarity,list" doc:"Cosine similarities of the nearest clusters' centroids, in the order of nearest."`
}

// Hypothesis is a row of the hypotheses table.
type Hypothesis struct {
	ID             string   `parquet:"id" doc:"Stable id: the first 16 hex digits of SHA-256 of the property and direction."`
	Text           string   `parquet:"text" doc:"The hypothesis for people, naming the models, e.g. B's answers more often than A's: end with a question to the user."`
	Property       string   `parquet:"property" doc:"The property alone, without model names: what judges see, e.g. ends with a question to the user."`
	Direction      string   `parquet:"direction,dict" doc:"B>A when the property is more typical of B, A>B when more typical of A."`
	Kind           string   `parquet:"kind,dict" doc:"How it was made: llm (assistant-proposed), lexical (builtin describer) or exemplar (a region of mbd-match that the proposer found no words for, described by exemplars and counter-examples)."`
	Proposer       string   `parquet:"proposer,dict" doc:"Reference of the assistant (or builtin) that proposed it."`
	Regions        []int32  `parquet:"regions,list" doc:"Regions (matches.region) the hypothesis was written from; -1 stands for all discovery texts."`
	EvidenceIDs    []string `parquet:"evidence_ids,list" doc:"Generation ids shown to the proposer; these never validate the hypothesis."`
	ProposerPrompt string   `parquet:"proposer_prompt_hash" doc:"First 16 hex digits of SHA-256 of the texts and instructions given to the proposer."`
	ShareA         *float64 `parquet:"share_a,optional" doc:"Share of the proposer's A texts showing the property by the builtin judge (for lens hypotheses: of A's discovery texts given with the lens); null when unknown (llm proposals, length, a lens without texts)."`
	ShareB         *float64 `parquet:"share_b,optional" doc:"Same for B's texts."`
	Origin         *string  `parquet:"origin,optional" absent:"null" doc:"What the hypothesis was proposed from: texts (all discovery texts), region (a differing region of mbd-match), exemplar (a region described by exemplars), lens (the tokens an activation difference lens promotes or suppresses) or steered (texts generated with the difference as a steering vector, against A's texts)."`
}

// Validation is a row of the validations table.
type Validation struct {
	HypothesisID string   `parquet:"hypothesis_id" doc:"id of the tested hypothesis."`
	Method       string   `parquet:"method,dict" doc:"discriminative, generative, interactive or cluster-share."`
	Judge        string   `parquet:"judge,dict" doc:"Reference of the judge or scorer used."`
	N            int64    `parquet:"n" doc:"Valid trials (pairs, texts or conversations) that entered the statistic."`
	NInvalid     int64    `parquet:"n_invalid" doc:"Trials whose judge answer could not be parsed or was refused; excluded, never guessed."`
	Statistic    float64  `parquet:"statistic" doc:"Value of the test statistic (see statistic_name)."`
	StatName     string   `parquet:"statistic_name,dict" doc:"Name of the statistic: accuracy, auc, mann_whitney_u, ..."`
	Effect       float64  `parquet:"effect" doc:"Effect size (see effect_name)."`
	EffectName   string   `parquet:"effect_name,dict" doc:"Name of the effect size: accuracy-0.5, auc-0.5, cohens_h, shift, ..."`
	CILow        float64  `parquet:"ci_low" doc:"Lower end of the 95% confidence interval of the effect."`
	CIHigh       float64  `parquet:"ci_high" doc:"Upper end of the 95% confidence interval of the effect."`
	P            float64  `parquet:"p" doc:"p-value of the test."`
	Q            float64  `parquet:"q" doc:"Multiple-comparison-adjusted p-value over every test of the run (see correction)."`
	Correction   string   `parquet:"correction,dict" doc:"bh (Benjamini-Hochberg) or holm."`
	Alpha        float64  `parquet:"alpha" doc:"Level at which the verdict was taken."`
	Verdict      string   `parquet:"verdict,dict" doc:"validated (q <= alpha and effect in the stated direction), rejected, invalid (too few valid trials) or unavailable (the assistant or a model cannot do this test; p, q are NaN and it is not in the correction)."`
	Baseline     *float64 `parquet:"baseline,optional" doc:"Discriminative: the same judge's accuracy on the same pairs with the hypothesis withheld (a generic property instead); null when not measured."`
	Planned      int64    `parquet:"planned" doc:"Sequential tests (discriminative, interactive): pairs or trials planned before testing for power 0.8, from the hypothesis's discovery shares (the most allowed when they are unknown); 0 for other tests."`
	Looks        int64    `parquet:"looks" doc:"Sequential tests: interim analyses taken (the first after 10 pairs or trials, each later one after twice as many, the last at the plan)."`
	Stop         string   `parquet:"stop,dict" doc:"Sequential tests: why testing stopped: boundary (the look's boundary was crossed, for or against the hypothesis), futility (from half the plan on, no lean toward the hypothesis; p is then 1) or plan (the planned size was reached)."`
}

// Truth is a row of the truths table.
type Truth struct {
	ID       string   `parquet:"id" doc:"Stable id of the behaviour."`
	Behavior string   `parquet:"behavior" doc:"The inserted behaviour in plain language, e.g. mentions the sea in every answer."`
	Category string   `parquet:"category,dict" doc:"Kind of behaviour: topic, style, length, prompt-induced, quantization, none (A/A)."`
	Source   string   `parquet:"source,dict" doc:"Who wrote it: builtin suite or the assistant reference."`
	Texts    []string `parquet:"texts,list" doc:"Training texts that exhibit the behaviour."`
}

// RecoveryRow is a row of the recovery table.
type RecoveryRow struct {
	TruthID      string  `parquet:"truth_id" doc:"id of the ground truth."`
	HypothesisID *string `parquet:"hypothesis_id,optional" doc:"id of the validated hypothesis assigned to the truth; null when none is."`
	Score        float64 `parquet:"score" doc:"Similarity of truth and hypothesis in [0, 1] (see method)."`
	Method       string  `parquet:"method,dict" doc:"How similarity was scored: embedding cosine or an assistant rubric."`
	Recovered    bool    `parquet:"recovered" doc:"Whether the truth counts as recovered (score at or above the threshold)."`
}

// WeightDiff is a row of the weightdiff table.
type WeightDiff struct {
	Tensor      string    `parquet:"tensor" doc:"Tensor name, as in the GGUF files (e.g. blk.0.attn_q.weight)."`
	Status      string    `parquet:"status,dict" doc:"compared; only-in-A or only-in-B (the other file has no such tensor); shape-mismatch; unsupported-type (a type that cannot be converted to floats, such as I32); non-finite (NaN or infinite weights). The metric columns are null unless compared."`
	Detail      string    `parquet:"detail" doc:"Why a tensor was not compared, in words; empty when compared."`
	TypeA       string    `parquet:"type_a,dict" doc:"ggml type of the tensor in A (F32, F16, Q8_0, Q4_K ...); empty when only in B."`
	TypeB       string    `parquet:"type_b,dict" doc:"ggml type of the tensor in B; empty when only in A."`
	ShapeA      []int64   `parquet:"shape_a,list" doc:"Dimensions in A in ggml order: the row length (input features of a weight matrix) first; empty when only in B."`
	ShapeB      []int64   `parquet:"shape_b,list" doc:"Dimensions in B in ggml order; empty when only in A."`
	NormA       *float64  `parquet:"norm_a,optional" doc:"Frobenius norm of A's tensor (after dequantization)."`
	NormB       *float64  `parquet:"norm_b,optional" doc:"Frobenius norm of B's tensor."`
	NormDelta   *float64  `parquet:"norm_delta,optional" doc:"Frobenius norm of the difference B - A."`
	RelDelta    *float64  `parquet:"rel_delta,optional" doc:"norm_delta / norm_a; 0 when B equals A; null when A is all zeros and B is not, or when not compared."`
	MaxAbsDelta *float64  `parquet:"max_abs_delta,optional" doc:"Largest absolute element of B - A."`
	Singular    []float64 `parquet:"singular_values,list" doc:"Matrices (2-D tensors): the largest singular values of B - A, largest first (at most --top of them; zeros for a zero difference); empty for other tensors and when not compared."`
	Rank90      *int32    `parquet:"rank90,optional" doc:"Matrices: the fewest singular directions of B - A holding 90% of its energy (sum of squared singular values); 0 for a zero difference; null for other tensors, and under svd_method randomized when the sketch holds less than 90% (otherwise an upper bound there)."`
	TopEnergy   *float64  `parquet:"top_energy,optional" doc:"Matrices: the share of B - A's energy in the singular values listed (1 for a zero difference)."`
	Rank1Error  *float64  `parquet:"rank1_error,optional" doc:"Matrices: ‖D − D₁‖_F / ‖D‖_F = sqrt(1 − s₁² / ‖D‖_F²), the relative error of D₁, the best rank-1 approximation of D = B - A; 0 for a zero difference (or one of rank 1), near 1 when no direction dominates."`
	SVDMethod   string    `parquet:"svd_method,dict" doc:"How the singular values were found: exact (eigenvalues of the smaller Gram matrix of B - A), randomized (subspace iteration with a sketch of --sketch directions: the values are lower bounds, close for the leading ones, and rank1_error an upper bound), or empty for other tensors and when not compared."`
}

func (Prompt) Table() *Table      { return Prompts }
func (Generation) Table() *Table  { return Generations }
func (Score) Table() *Table       { return Scores }
func (Embedding) Table() *Table   { return Embeddings }
func (Cluster) Table() *Table     { return Clusters }
func (Centroid) Table() *Table    { return Centroids }
func (Match) Table() *Table       { return Matches }
func (Hypothesis) Table() *Table  { return Hypotheses }
func (Validation) Table() *Table  { return Validations }
func (Truth) Table() *Table       { return Truths }
func (RecoveryRow) Table() *Table { return Recovery }
func (WeightDiff) Table() *Table  { return WeightDiffs }
