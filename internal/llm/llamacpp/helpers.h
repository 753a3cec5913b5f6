// C helpers for the Go wrapper: build checks, logging, batches, samplers, log-softmax.
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
struct llama_model *mbd_load(const char *path, int32_t n_gpu_layers, bool vocab_only);
struct llama_context *mbd_context(struct llama_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t n_seq, int32_t threads, bool embeddings);
uint32_t mbd_quantize(const char *in, const char *out, int32_t ftype, int32_t threads);

#endif
