// C helpers for the Go wrapper: build checks, logging, batches, samplers, log-softmax, capture of
// hidden states.
#ifndef MBD_LLAMACPP_HELPERS_H
#define MBD_LLAMACPP_HELPERS_H

#if !defined(__has_include)
#error "compiler without __has_include"
#elif !__has_include("llama.h")
#error "llama.h not found: build with `make build` (it sets CGO_CPPFLAGS to the include folders of github.com/ollama/ollama; `eval \"$(make -s env)\"` for go commands by hand)"
#endif
#if defined(__x86_64__) && !defined(__AVX2__)
#error "ggml would be built without AVX2 and run 4-5x slower: build with `make build` (CGO_CFLAGS/CGO_CXXFLAGS=-O3 -march=x86-64-v3; `eval \"$(make -s env)\"` for go commands by hand)"
#endif

#include <stdbool.h>
#include <stdint.h>
#include "llama.h"
#include "ggml-backend.h"

void mbd_set_log(void);
void mbd_batch_clear(struct llama_batch *b);
void mbd_batch_add(struct llama_batch *b, llama_token tok, llama_pos pos, llama_seq_id seq, bool logits);
struct llama_sampler *mbd_sampler(uint32_t seed, float temp, int32_t top_k, float top_p, float min_p, float repeat_penalty);
double mbd_logprob(const float *logits, int32_t n_vocab, llama_token tok);
struct llama_model *mbd_load(const char *path, int32_t n_gpu_layers, bool vocab_only, bool cpu_only);
struct llama_context *mbd_context(struct llama_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t n_seq, int32_t threads, bool embeddings, bool fast);
uint32_t mbd_quantize(const char *in, const char *out, int32_t ftype, int32_t threads);

// mbd_capture collects the block outputs (graph tensors named l_out-N) of chosen layers during
// llama_decode, through the context's eval callback. Rows (one per token of the micro-batch, in
// batch order) are appended per captured layer; the caller resets rows before each decode.
struct mbd_capture {
	int32_t n_layer;  // layers of the model
	int32_t *slot;    // slot[il]: where layer il goes among the captured layers, -1 if not captured
	int32_t n_embd;   // row length
	int64_t cap_rows; // rows each captured layer can hold
	float *buf;       // [captured layer][cap_rows][n_embd]
	int64_t *rows;    // rows captured per captured layer
	int32_t bad;      // 1: a tensor of another type or shape; 2: more rows than cap_rows
};
bool mbd_capture_cb(struct ggml_tensor *t, bool ask, void *user_data);
struct llama_context *mbd_capture_context(struct llama_model *m, uint32_t n_ctx, uint32_t n_seq, int32_t threads, struct mbd_capture *cap);

#endif
