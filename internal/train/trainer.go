package train

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"time"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// Config configures training.
type Config struct {
	// LR is the peak learning rate, reached after Warmup steps and decayed along a cosine to
	// MinLR at step Steps.
	LR, MinLR float64
	// Warmup is the number of linear warmup steps (from LR/Warmup at step 1 to LR).
	Warmup int
	// Steps is the total number of optimizer steps.
	Steps int
	// Batch is the number of token windows per step, Context their length in predicted tokens
	// (a window holds Context+1 tokens).
	Batch, Context int
	// Seed seeds the data order.
	Seed uint64
	// Train lists the tensors to train as path.Match patterns on the GGUF tensor names (e.g.
	// "blk.1.*", "output.weight", "*attn_q*"); empty trains all. The others stay frozen. It must
	// be empty with LoRA.
	Train []string
	// LoRARank, when positive, trains low-rank adapters (LoRA: Hu et al., "LoRA: Low-Rank
	// Adaptation of Large Language Models", 2021) instead of the weights: each weight matrix
	// W [out, in] (ggml layout) matching LoRATargets becomes W + (LoRAAlpha/LoRARank)·B·A with
	// A [rank, in] drawn uniformly in ±1/√in (seeded by Seed) and B [out, rank] = 0; only A and B
	// train, every base weight stays frozen. The model's weights (LogProbs, Loss, Weight, Export)
	// are the merged ones. 0 trains the weights themselves (Train).
	LoRARank int
	// LoRAAlpha scales the adapters by LoRAAlpha/LoRARank; 0 means LoRARank (scale 1).
	LoRAAlpha float64
	// LoRATargets lists the adapted matrices as path.Match patterns on the GGUF tensor names;
	// empty means DefaultLoRATargets (attention q and v). Each pattern must match a matrix
	// (1-D tensors such as norm weights are never adapted), e.g. "blk.*.ffn_*" adds the FFN.
	LoRATargets []string
	// ClipNorm clips the global L2 norm of the gradient to this value; 0 disables clipping.
	ClipNorm float64
	// WeightDecay is AdamW's decoupled weight decay, applied to matrices (not to norm weights).
	WeightDecay float64
	// Beta1, Beta2 and Eps are Adam's moment decay rates and epsilon; 0 means 0.9, 0.999 and 1e-8.
	Beta1, Beta2, Eps float64

	// CheckpointPath, when set with CheckpointEvery > 0, receives a checkpoint (SaveCheckpoint)
	// every CheckpointEvery steps and at the end. These two fields do not have to match when
	// resuming.
	CheckpointPath  string
	CheckpointEvery int
}

func (c *Config) defaults() {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.LoRARank > 0 {
		if c.LoRAAlpha == 0 {
			c.LoRAAlpha = float64(c.LoRARank)
		}
		if len(c.LoRATargets) == 0 {
			c.LoRATargets = slices.Clone(DefaultLoRATargets)
		}
	}
}

func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.LR > 0, "learning rate %g must be positive", c.LR)
	check(c.MinLR >= 0 && c.MinLR <= c.LR, "minimum learning rate %g must be in [0, LR]", c.MinLR)
	check(c.Steps > 0, "steps %d must be positive", c.Steps)
	check(c.Warmup >= 0 && c.Warmup <= c.Steps, "warmup %d must be in [0, steps]", c.Warmup)
	check(c.Batch > 0, "batch %d must be positive", c.Batch)
	check(c.Context > 0, "context %d must be positive", c.Context)
	check(c.ClipNorm >= 0, "clip norm %g must not be negative", c.ClipNorm)
	check(c.WeightDecay >= 0, "weight decay %g must not be negative", c.WeightDecay)
	check(c.Beta1 > 0 && c.Beta1 < 1 && c.Beta2 > 0 && c.Beta2 < 1, "Adam betas %g, %g must be in (0, 1)", c.Beta1, c.Beta2)
	check(c.CheckpointEvery >= 0, "checkpoint interval %d must not be negative", c.CheckpointEvery)
	for _, p := range c.Train {
		_, err := path.Match(p, "")
		check(err == nil, "bad tensor pattern %q", p)
	}
	check(c.LoRARank >= 0, "LoRA rank %d must not be negative", c.LoRARank)
	if c.LoRARank > 0 {
		check(c.LoRAAlpha > 0, "LoRA alpha %g must be positive", c.LoRAAlpha)
		check(len(c.Train) == 0, "Train patterns %q cannot be combined with LoRA (only the adapters train; choose them with LoRATargets)", c.Train)
		for _, p := range c.LoRATargets {
			_, err := path.Match(p, "")
			check(err == nil, "bad LoRA target pattern %q", p)
		}
	} else {
		check(c.LoRAAlpha == 0 && len(c.LoRATargets) == 0, "LoRA alpha or targets given without a LoRA rank")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("train: invalid config: %w", err)
	}
	return nil
}

// sameRun reports whether two configs describe the same training run (a checkpoint of one can be
// resumed by the other).
func (c Config) sameRun(d Config) bool {
	c.CheckpointPath, d.CheckpointPath = "", ""
	c.CheckpointEvery, d.CheckpointEvery = 0, 0
	return c.LR == d.LR && c.MinLR == d.MinLR && c.Warmup == d.Warmup && c.Steps == d.Steps &&
		c.Batch == d.Batch && c.Context == d.Context && c.Seed == d.Seed && slices.Equal(c.Train, d.Train) &&
		c.ClipNorm == d.ClipNorm && c.WeightDecay == d.WeightDecay && c.Beta1 == d.Beta1 &&
		c.Beta2 == d.Beta2 && c.Eps == d.Eps && c.LoRARank == d.LoRARank && c.LoRAAlpha == d.LoRAAlpha &&
		slices.Equal(c.LoRATargets, d.LoRATargets)
}

// LRAt returns the learning rate of step (1-based): linear warmup to LR over Warmup steps, then
// cosine decay from LR to MinLR at step Steps.
func (c Config) LRAt(step int) float64 {
	if step <= c.Warmup {
		return c.LR * float64(step) / float64(c.Warmup)
	}
	if c.Steps <= c.Warmup {
		return c.LR
	}
	p := float64(step-c.Warmup) / float64(c.Steps-c.Warmup)
	return c.MinLR + (c.LR-c.MinLR)*0.5*(1+math.Cos(math.Pi*min(p, 1)))
}

// trainable reports whether the tensor name is trained under patterns.
func trainable(name string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// state is the training state: the optimizer moments, the step and the data order.
type state struct {
	cfg      Config
	step     int               // steps done
	trainIdx []int             // indices in Model.tensors of the trained tensors (without LoRA)
	lora     []*adapter        // the LoRA adapters, in file order of their weights (with LoRA)
	mom, vel []*tensors.Tensor // Adam's moments of each trained parameter (see param)
	pcg      *rand.PCG
	perm     []int32 // window order of the current epoch
	cursor   int     // next position in perm
	dataHash uint64
	nWindows int
	exec     *Exec
}

// nParams is the number of trained parameter tensors: the trained weights, or A and B of each
// adapter.
func (st *state) nParams() int {
	if st.lora != nil {
		return 2 * len(st.lora)
	}
	return len(st.trainIdx)
}

// param returns the name and value of trained parameter i: a weight, or adapter i/2's A (even i,
// named NAME.lora_a) or B (odd i, NAME.lora_b).
func (m *Model) param(st *state, i int) (string, *tensors.Tensor) {
	if st.lora == nil {
		t := m.tensors[st.trainIdx[i]]
		return t.name, t.value
	}
	ad := st.lora[i/2]
	name := m.tensors[ad.ti].name
	if i%2 == 0 {
		return name + ".lora_a", ad.a
	}
	return name + ".lora_b", ad.b
}

// setParam replaces the value of trained parameter i, freeing the old one.
func (m *Model) setParam(st *state, i int, v *tensors.Tensor) {
	if st.lora == nil {
		t := m.tensors[st.trainIdx[i]]
		t.value.FinalizeAll()
		t.value = v
		return
	}
	ad := st.lora[i/2]
	ad.merged = nil
	if i%2 == 0 {
		ad.a.FinalizeAll()
		ad.a = v
	} else {
		ad.b.FinalizeAll()
		ad.b = v
	}
}

// piece is tokens [start, end) of one document.
type piece struct{ doc, start, end int }

// window is the pieces one training row holds, at most ctx+1 tokens together.
type window []piece

// windows cuts documents into pieces of at most ctx+1 tokens overlapping by one (every token but
// each document's first is predicted exactly once) and packs them, in order, into windows of ctx+1
// tokens: a piece joins the current window when it fits, else starts the next. Packing fills the
// rows that one short document per window would leave mostly padding (the synthetic suite's
// answers average ~150 tokens in windows of 257); attention stays within a piece (see fill).
func windows(docs [][]int32, ctx int) []window {
	var ws []window
	used := ctx + 1
	for d, doc := range docs {
		for s := 0; s+1 < len(doc); s += ctx {
			p := piece{d, s, min(s+ctx+1, len(doc))}
			if n := p.end - p.start; used+n <= ctx+1 {
				ws[len(ws)-1] = append(ws[len(ws)-1], p)
				used += n
			} else {
				ws = append(ws, window{p})
				used = n
			}
		}
	}
	return ws
}

func hashDocs(docs [][]int32) uint64 {
	h := fnv.New64a()
	var b [4]byte
	for _, doc := range docs {
		for _, t := range doc {
			b[0], b[1], b[2], b[3] = byte(t), byte(t>>8), byte(t>>16), byte(t>>24)
			h.Write(b[:])
		}
		h.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xfe})
	}
	return h.Sum64()
}

// fill writes the windows into tokens [B, ctx+1], mask [B, ctx] (1 where a token is predicted)
// and segments [B, ctx] (the piece each read position belongs to, from 1; 0 for padding): a
// position attends only to earlier positions of its own piece, so a packed row computes what each
// piece alone would.
func fill(docs [][]int32, ws []window, ctx int, toks []int32, mask []float32, seg []int32) {
	clear(toks)
	clear(mask)
	clear(seg)
	for b, w := range ws {
		o := 0
		for k, p := range w {
			copy(toks[b*(ctx+1)+o:], docs[p.doc][p.start:p.end])
			n := p.end - p.start
			for i := o; i < o+n && i < ctx; i++ {
				seg[b*ctx+i] = int32(k + 1)
			}
			for i := o; i+1 < o+n; i++ {
				mask[b*ctx+i] = 1
			}
			o += n
		}
	}
}

// maskedNLL is the mean negative log-likelihood of tokens [B, C+1]: the model reads [:, :C] (each
// position seeing its own segment, seg [B, C]) and predicts [:, 1:], where mask [B, C] is 1.
func (m *Model) maskedNLL(w map[string]*Node, toks, mask, seg *Node) *Node {
	dims := toks.Shape().Dimensions
	b, c := dims[0], dims[1]-1
	in := Slice(toks, AxisRange(), AxisRange(0, c))
	next := Slice(toks, AxisRange(), AxisRange(1, c+1))
	lp := LogSoftmax(m.forward(w, in, seg))
	tl := ReduceSum(Mul(lp, OneHot(next, m.hp.nVocab, lp.DType())), -1)
	tl = Reshape(tl, b, c)
	n := MaxScalar(ReduceAllSum(mask), 1)
	return Neg(Div(ReduceAllSum(Mul(tl, mask)), n))
}

// Train trains the model on docs (token sequences, each cut into windows of cfg.Context+1 tokens;
// windows are drawn in a seeded random order, reshuffled every epoch) for cfg.Steps AdamW steps.
//
// It continues from the model's training state when it has one for the same run (after an
// interrupted Train or LoadCheckpoint), otherwise it starts at step 0 from the current weights.
// When ctx is cancelled it returns ctx.Err() after a whole step, with the state intact, so a later
// Train (or a checkpoint saved now) resumes exactly. progress, if not nil, is called after every
// step with the step number (1-based), the batch's mean loss in nats per token and the training
// throughput.
func (m *Model) Train(ctx context.Context, docs [][]int32, cfg Config, progress func(step int, loss, tokPerSec float64)) error {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	for _, doc := range docs {
		for _, t := range doc {
			if t < 0 || int(t) >= m.hp.nVocab {
				return fmt.Errorf("train: token %d out of range [0, %d)", t, m.hp.nVocab)
			}
		}
	}
	ws := windows(docs, cfg.Context)
	if len(ws) == 0 {
		return errors.New("train: no training data (every sequence needs at least 2 tokens)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.state
	hash := hashDocs(docs)
	if st != nil && st.cfg.sameRun(cfg) {
		if st.dataHash != hash {
			return errors.New("train: the training state is for other data; ResetTraining to start over")
		}
		st.cfg = cfg
	} else {
		var err error
		if st, err = m.newState(cfg, hash, len(ws)); err != nil {
			return err
		}
		// A new run starts from the current weights: the adapters of the previous one merged.
		if err := m.bakeAdapters(); err != nil {
			return err
		}
		m.state = st
	}
	if st.exec == nil {
		b, err := backend()
		if err != nil {
			return err
		}
		if st.exec, err = NewExec(b, m.stepGraph(st)); err != nil {
			return err
		}
	}
	rng := rand.New(st.pcg)
	toks := make([]int32, cfg.Batch*(cfg.Context+1))
	mask := make([]float32, cfg.Batch*cfg.Context)
	seg := make([]int32, cfg.Batch*cfg.Context)
	batch := make([]window, cfg.Batch)
	start := time.Now()
	var tokens float64
	for st.step < cfg.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The batch, and the data-order state after it; committed only once the step succeeds.
		perm, cursor := st.perm, st.cursor
		pcgState, _ := st.pcg.MarshalBinary()
		for i := range batch {
			if cursor == len(perm) {
				perm = make([]int32, len(ws))
				for j := range perm {
					perm[j] = int32(j)
				}
				rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
				cursor = 0
			}
			batch[i] = ws[perm[cursor]]
			cursor++
		}
		fill(docs, batch, cfg.Context, toks, mask, seg)
		step := st.step + 1
		bc1 := 1 - math.Pow(cfg.Beta1, float64(step))
		bc2 := 1 - math.Pow(cfg.Beta2, float64(step))
		n := st.nParams()
		args := make([]any, 0, len(m.tensors)+3*n+5)
		for _, t := range m.tensors {
			args = append(args, t.value)
		}
		if st.lora != nil {
			for i := 0; i < n; i++ {
				_, v := m.param(st, i)
				args = append(args, v)
			}
		}
		args = append(args, toAny(st.mom)...)
		args = append(args, toAny(st.vel)...)
		args = append(args,
			tensors.FromFlatDataAndDimensions(toks, cfg.Batch, cfg.Context+1),
			tensors.FromFlatDataAndDimensions(mask, cfg.Batch, cfg.Context),
			tensors.FromFlatDataAndDimensions(seg, cfg.Batch, cfg.Context),
			tensors.FromScalar(float32(cfg.LRAt(step))), tensors.FromScalar(float32(bc1)), tensors.FromScalar(float32(bc2)))
		out, err := st.exec.Call(args...)
		if err != nil {
			_ = st.pcg.UnmarshalBinary(pcgState)
			return fmt.Errorf("train: step %d: %w", step, err)
		}
		for i := 0; i < n; i++ {
			m.setParam(st, i, out[i])
			st.mom[i].FinalizeAll()
			st.mom[i] = out[n+i]
			st.vel[i].FinalizeAll()
			st.vel[i] = out[2*n+i]
		}
		loss := float64(tensors.MustCopyFlatData[float32](out[3*n])[0])
		out[3*n].FinalizeAll()
		st.perm, st.cursor, st.step = perm, cursor, step
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("train: step %d: loss is %v", step, loss)
		}
		for _, v := range mask {
			tokens += float64(v)
		}
		if progress != nil {
			progress(step, loss, tokens/time.Since(start).Seconds())
		}
		if cfg.CheckpointPath != "" && cfg.CheckpointEvery > 0 && (step%cfg.CheckpointEvery == 0 || step == cfg.Steps) {
			if err := m.saveCheckpoint(cfg.CheckpointPath); err != nil {
				return err
			}
		}
	}
	return nil
}

func toAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// ResetTraining drops the training state (optimizer moments, step, data order); the weights stay
// (LoRA adapters are merged into them).
func (m *Model) ResetTraining() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.bakeAdapters(); err != nil {
		return err
	}
	m.state = nil
	return nil
}

// Step returns the number of training steps done in the current training state.
func (m *Model) Step() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return 0
	}
	return m.state.step
}

func (m *Model) newState(cfg Config, hash uint64, nWindows int) (*state, error) {
	st := &state{cfg: cfg, dataHash: hash, nWindows: nWindows, pcg: rand.NewPCG(cfg.Seed, 0x6d62642d7472616e)} // "mbd-tran"
	trainIdx, loraIdx, err := m.plan(cfg)
	if err != nil {
		return nil, err
	}
	st.trainIdx = trainIdx
	if cfg.LoRARank > 0 {
		st.lora = m.newAdapters(cfg, loraIdx)
	}
	for i := 0; i < st.nParams(); i++ {
		_, v := m.param(st, i)
		st.mom = append(st.mom, tensors.FromShape(v.Shape()))
		st.vel = append(st.vel, tensors.FromShape(v.Shape()))
	}
	return st, nil
}

// stepGraph builds one AdamW step. Inputs: all weights (file order), with LoRA the adapters
// (A₀, B₀, A₁, B₁, …), the trained parameters' first and second moments, tokens [B,C+1],
// mask [B,C], segments [B,C], the learning rate and Adam's two bias corrections 1-β₁ᵗ, 1-β₂ᵗ. Outputs: the
// trained parameters' new values, new moments, and the loss.
func (m *Model) stepGraph(st *state) func(*Graph, []*Node) []*Node {
	cfg := st.cfg
	return func(g *Graph, in []*Node) []*Node {
		nw, n := len(m.tensors), st.nParams()
		weights := in[:nw]
		in = in[nw:]
		params := make([]*Node, n)
		w := m.nodeMap(weights)
		if st.lora != nil {
			copy(params, in[:n])
			in = in[n:]
			m.loraWeights(w, st, params)
		} else {
			for i, ti := range st.trainIdx {
				params[i] = weights[ti]
			}
		}
		mom, vel := in[:n], in[n:2*n]
		rest := in[2*n:]
		toks, mask, seg, lr, bc1, bc2 := rest[0], rest[1], rest[2], rest[3], rest[4], rest[5]
		loss := m.maskedNLL(w, toks, mask, seg)
		grads := Gradient(loss, params...)
		if cfg.ClipNorm > 0 {
			var sq *Node
			for _, gr := range grads {
				s := ReduceAllSum(Square(gr))
				if sq == nil {
					sq = s
				} else {
					sq = Add(sq, s)
				}
			}
			norm := Sqrt(sq)
			scale := MinScalar(Div(Scalar(g, norm.DType(), cfg.ClipNorm), AddScalar(norm, 1e-6)), 1)
			for i := range grads {
				grads[i] = Mul(grads[i], scale)
			}
		}
		outs := make([]*Node, 0, 3*n+1)
		newM, newV := make([]*Node, n), make([]*Node, n)
		for i, p := range params {
			gr := grads[i]
			newM[i] = Add(MulScalar(mom[i], cfg.Beta1), MulScalar(gr, 1-cfg.Beta1))
			newV[i] = Add(MulScalar(vel[i], cfg.Beta2), MulScalar(Square(gr), 1-cfg.Beta2))
			upd := Div(Div(newM[i], bc1), AddScalar(Sqrt(Div(newV[i], bc2)), cfg.Eps))
			if cfg.WeightDecay > 0 && p.Rank() >= 2 {
				upd = Add(upd, MulScalar(p, cfg.WeightDecay))
			}
			outs = append(outs, Sub(p, Mul(lr, upd)))
		}
		outs = append(outs, newM...)
		outs = append(outs, newV...)
		return append(outs, loss)
	}
}

// Loss returns the mean negative log-likelihood (nats per predicted token) of docs, cut into
// windows of ctx+1 tokens as in training.
func (m *Model) Loss(docs [][]int32, ctx int) (float64, error) {
	if ctx <= 0 {
		return 0, fmt.Errorf("train: context %d must be positive", ctx)
	}
	ws := windows(docs, ctx)
	if len(ws) == 0 {
		return 0, errors.New("train: no tokens to predict")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eval == nil {
		b, err := backend()
		if err != nil {
			return 0, err
		}
		eval, err := NewExec(b, func(g *Graph, in []*Node) []*Node {
			nw := len(m.tensors)
			toks, mask, seg := in[nw], in[nw+1], in[nw+2]
			return []*Node{Mul(m.maskedNLL(m.nodeMap(in[:nw]), toks, mask, seg), ReduceAllSum(mask))}
		})
		if err != nil {
			return 0, err
		}
		m.eval = eval
	}
	const batch = 8
	toks := make([]int32, batch*(ctx+1))
	mask := make([]float32, batch*ctx)
	seg := make([]int32, batch*ctx)
	var sum, n float64
	for i := 0; i < len(ws); i += batch {
		fill(docs, ws[i:min(i+batch, len(ws))], ctx, toks, mask, seg)
		weights, err := m.effective()
		if err != nil {
			return 0, err
		}
		args := append(toAny(weights), tensors.FromFlatDataAndDimensions(toks, batch, ctx+1), tensors.FromFlatDataAndDimensions(mask, batch, ctx),
			tensors.FromFlatDataAndDimensions(seg, batch, ctx))
		out, err := m.eval.Call(args...)
		if err != nil {
			return 0, err
		}
		sum += float64(tensors.MustCopyFlatData[float32](out[0])[0])
		out[0].FinalizeAll()
		for _, v := range mask {
			n += float64(v)
		}
	}
	return sum / n, nil
}
