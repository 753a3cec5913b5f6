#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"

extern void mbdLog(int level, char *text);

static void mbd_log_cb(enum ggml_log_level level, const char *text, void *ud) {
	(void)ud;
	mbdLog((int)level, (char *)text);
}

void mbd_set_log(void) {
	llama_log_set(mbd_log_cb, NULL);
	ggml_log_set(mbd_log_cb, NULL);
}

void mbd_batch_clear(struct llama_batch *b) { b->n_tokens = 0; }

void mbd_batch_add(struct llama_batch *b, llama_token tok, llama_pos pos, llama_seq_id seq, bool logits) {
	int i = b->n_tokens;
	b->token[i] = tok;
	b->pos[i] = pos;
	b->n_seq_id[i] = 1;
	b->seq_id[i][0] = seq;
	b->logits[i] = logits;
	b->n_tokens++;
}

struct llama_sampler *mbd_sampler(uint32_t seed, float temp, int32_t top_k, float top_p, float min_p, float repeat_penalty) {
	struct llama_sampler *s = llama_sampler_chain_init(llama_sampler_chain_default_params());
	if (repeat_penalty != 0 && repeat_penalty != 1) {
		llama_sampler_chain_add(s, llama_sampler_init_penalties(64, repeat_penalty, 0, 0));
	}
	if (temp <= 0) {
		llama_sampler_chain_add(s, llama_sampler_init_greedy());
		return s;
	}
	if (top_k > 0) llama_sampler_chain_add(s, llama_sampler_init_top_k(top_k));
	if (top_p > 0 && top_p < 1) llama_sampler_chain_add(s, llama_sampler_init_top_p(top_p, 1));
	if (min_p > 0) llama_sampler_chain_add(s, llama_sampler_init_min_p(min_p, 1));
	llama_sampler_chain_add(s, llama_sampler_init_temp(temp));
	llama_sampler_chain_add(s, llama_sampler_init_dist(seed));
	return s;
}

// mbd_logprob is log softmax(logits)[tok], accumulated in double.
double mbd_logprob(const float *logits, int32_t n_vocab, llama_token tok) {
	float max = logits[0];
	for (int32_t i = 1; i < n_vocab; i++) {
		if (logits[i] > max) max = logits[i];
	}
	double sum = 0;
	for (int32_t i = 0; i < n_vocab; i++) {
		sum += exp((double)logits[i] - (double)max);
	}
	return (double)logits[tok] - (double)max - log(sum);
}

// mbd_load loads a model, offloading n_gpu_layers to the GPU backends registered; cpu_only
// gives llama.cpp an empty device list, as without one it uses every GPU registered and offloads
// large batches to it even with no layer offloaded.
struct llama_model *mbd_load(const char *path, int32_t n_gpu_layers, bool vocab_only, bool cpu_only) {
	static ggml_backend_dev_t none[1] = {NULL};
	struct llama_model_params p = llama_model_default_params();
	p.n_gpu_layers = n_gpu_layers;
	p.vocab_only = vocab_only;
	if (cpu_only) p.devices = none;
	return llama_model_load_from_file(path, p);
}

struct llama_context *mbd_context(struct llama_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t n_seq, int32_t threads, bool embeddings, bool fast) {
	struct llama_context_params p = llama_context_default_params();
	p.n_ctx = n_ctx;
	p.n_batch = n_batch;
	p.n_ubatch = n_batch;
	p.n_seq_max = n_seq;
	p.n_threads = threads;
	p.n_threads_batch = threads;
	p.embeddings = embeddings;
	p.kv_unified = false;
	p.no_perf = true;
	if (fast) {
		// Generation on llama.cpp's fast path, its defaults: flash attention where the backend
		// supports it and an F16 KV cache.
		p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
		p.type_k = GGML_TYPE_F16;
		p.type_v = GGML_TYPE_F16;
	} else {
		// Flash attention on the CPU keeps Q, K, V and the running sums in float16, which moves
		// per-token log-probs by ~1e-2; scores are statistics here, so attention runs in F32,
		// and the KV cache is kept in F32 too.
		p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
		p.type_k = GGML_TYPE_F32;
		p.type_v = GGML_TYPE_F32;
	}
	if (embeddings) p.pooling_type = LLAMA_POOLING_TYPE_MEAN;
	return llama_init_from_model(m, p);
}

uint32_t mbd_quantize(const char *in, const char *out, int32_t ftype, int32_t threads) {
	llama_model_quantize_params p = llama_model_quantize_default_params();
	p.ftype = (enum llama_ftype)ftype;
	p.nthread = threads;
	return llama_model_quantize(in, out, &p);
}

// mbd_capture_slot is where tensor t goes among the captured layers, -1 when it is not a block
// output of a captured layer.
static int32_t mbd_capture_slot(const struct mbd_capture *c, const struct ggml_tensor *t) {
	if (strncmp(t->name, "l_out-", 6) != 0) return -1;
	char *end;
	long il = strtol(t->name + 6, &end, 10);
	if (end == t->name + 6 || *end != '\0' || il < 0 || il >= c->n_layer) return -1;
	return c->slot[il];
}

bool mbd_capture_cb(struct ggml_tensor *t, bool ask, void *user_data) {
	struct mbd_capture *c = (struct mbd_capture *)user_data;
	int32_t s = mbd_capture_slot(c, t);
	if (ask) return s >= 0;
	if (s < 0) return true;
	if (t->type != GGML_TYPE_F32 || t->ne[0] != c->n_embd || t->ne[2] != 1 || t->ne[3] != 1 ||
	    !ggml_is_contiguous(t) || t->buffer == NULL) {
		c->bad = 1;
		return true;
	}
	int64_t n = t->ne[1];
	if (n < 0 || c->rows[s] + n > c->cap_rows) {
		c->bad = 2;
		return true;
	}
	float *dst = c->buf + ((int64_t)s * c->cap_rows + c->rows[s]) * c->n_embd;
	ggml_backend_tensor_get(t, dst, 0, (size_t)n * (size_t)c->n_embd * sizeof(float));
	c->rows[s] += n;
	return true;
}

// mbd_capture_context is a context whose eval callback fills cap. One KV cache is shared by the
// sequences (kv_unified), so llama.cpp splits a batch into micro-batches in batch order.
struct llama_context *mbd_capture_context(struct llama_model *m, uint32_t n_ctx, uint32_t n_seq, int32_t threads, struct mbd_capture *cap) {
	struct llama_context_params p = llama_context_default_params();
	p.n_ctx = n_ctx;
	p.n_batch = n_ctx;
	p.n_ubatch = n_ctx;
	p.n_seq_max = n_seq;
	p.n_threads = threads;
	p.n_threads_batch = threads;
	p.kv_unified = true;
	p.no_perf = true;
	p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	p.type_k = GGML_TYPE_F32;
	p.type_v = GGML_TYPE_F32;
	p.cb_eval = mbd_capture_cb;
	p.cb_eval_user_data = cap;
	return llama_init_from_model(m, p);
}
