// Package train finetunes llama- and qwen2-architecture GGUF models on the CPU, so that mbd can insert known
// behaviours into models and check that it finds them. llama.cpp stays the inference engine: a
// model is read from a GGUF file (F32, F16 or BF16 weights; quantized models are refused),
// trained here with GoMLX's pure-Go backend, and exported to a GGUF file with the input's metadata
// and tokenizer that llama.cpp loads.
//
// # Model
//
// The forward pass is llama.cpp's LLM_ARCH_LLAMA graph (llama-model.cpp, llm_build_llama) for
// tokens t₀…t_{T-1} at positions 0…T-1. With RMSNorm(x) = x / sqrt(mean(x²) + ε) ⊙ w and weights
// in ggml layout (a GGUF tensor {in, out} is a row-major [out][in] matrix W, applied as W·x):
//
//	x = token_embd[t]
//	for each block:
//	    h = RMSNorm(x; attn_norm)
//	    q, k, v = RoPE(W_q h), RoPE(W_k h), W_v h          (n_head query, n_head_kv key/value heads)
//	    x += W_o · concat_j softmax(q_j·k_{j/g}ᵀ/√d + causal mask) v_{j/g}     (g = n_head/n_head_kv)
//	    h = RMSNorm(x; ffn_norm)
//	    x += W_down (silu(W_gate h) ⊙ W_up h)                                  (SwiGLU)
//	logits = W_output · RMSNorm(x; output_norm)      (token_embd when output.weight is absent)
//
// RoPE follows ggml's GGML_ROPE_TYPE_NORM, the convention of the llama architecture: each head's
// adjacent pairs (x_{2i}, x_{2i+1}) are rotated by the angle pos·base^(-2i/d), base being
// llama.rope.freq_base and d the head size. The hyperparameters come from the GGUF metadata
// (llama.embedding_length, block_count, feed_forward_length, attention.head_count(_kv),
// attention.layer_norm_rms_epsilon, rope.freq_base); biases, partial or scaled RoPE and
// mixture-of-experts layers are refused.
//
// The qwen2 architecture (Qwen2, Qwen2.5; llama.cpp's llm_build_qwen2) is the same graph with
// qwen2.* metadata and two differences: q, k and v have biases, W_q h + b_q and so on
// (blk.N.attn_q.bias, attn_k.bias, attn_v.bias; all or none), and RoPE is GGML_ROPE_TYPE_NEOX,
// rotating the pairs (x_i, x_{i+d/2}) by the same angles. Its output is usually tied to
// token_embd. A llama model's graph does not change.
//
// The trainer computes in float32 and matches exact arithmetic (a plain-Go reference in the
// tests) to ~1e-5 in log-probability. llama.cpp's CPU flash attention keeps Q, K and V in float16
// and accumulates the attention output in float16, so its log-probs differ from exact ones by up
// to ~1e-2 on peaky models; reproducing those roundings in the reference closes the gap (tests).
//
// # Training
//
// Model.Train minimises the next-token cross-entropy over windows of Context+1 tokens cut from
// the training sequences, Batch windows a step, in a seeded random order reshuffled every epoch,
// with AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019; Adam:
// Kingma & Ba 2015): m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², θ ← θ - η_t (m̂/(√v̂ + ε) + λθ), with
// bias-corrected m̂, v̂, decoupled weight decay λ on matrices only, the gradient's global L2 norm
// clipped to Config.ClipNorm, and η_t rising linearly over Config.Warmup steps and decaying along
// a cosine to Config.MinLR. Config.Train selects the trained tensors by name pattern (qwen2's
// biases included, without weight decay); the others stay frozen.
//
// With Config.LoRARank > 0 the weights stay frozen and low-rank adapters train instead (LoRA: Hu
// et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022): each weight matrix
// W [out, in] matching Config.LoRATargets (default the attention q and v projections) is used as
// W + (α/r)·B·A, with A [r, in] drawn uniformly in ±1/√in (seeded) and B [out, r] = 0, so
// training starts from the base model; AdamW updates only A and B (biases, being 1-D, are never
// adapted: they stay frozen). The training step forms the merged matrix in the graph; LogProbs,
// Loss, Weight and Export use W + (α/r)·B·A merged in Go, so the exported GGUF is a plain model.
// ExportLoRA writes the adapters alone in llama.cpp's LoRA adapter format (NAME.lora_a,
// NAME.lora_b, adapter.lora.alpha, the base's architecture). A new training run, or
// ResetTraining, merges the previous run's adapters into the weights.
//
// SaveCheckpoint and LoadCheckpoint store and restore the weights, the LoRA adapters, Adam's
// moments, the step and the data order, so that a resumed run ends exactly where an uninterrupted
// one does.
package train
