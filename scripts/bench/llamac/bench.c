// bench.c: the reference program of scripts/bench/llama.sh. It calls llama.cpp's C API
// directly, with no Go in the loop, to give the rate mbd's own paths are compared with: batched
// generation (slots refilled as sequences finish, a temperature + seeded-distribution sampler, each
// token detokenized, stop at end of generation) or batched teacher-forced scoring (log-softmax in
// double at every completion token). It is linked against the llama.cpp sources vendored in the Go
// module by main.go, so it runs the same code, compiled with the same flags, as mbd.
//
// Arguments: MODE (gen or score) MODEL INPUT PARALLEL THREADS ATTN MAX_TOKENS CTX
//   INPUT      gen: one prompt per line; score: prompt TAB completion per line ("\n", "\t" and "\\"
//              escaped)
//   ATTN       fast: flash attention (auto) and an F16 KV cache, llama.cpp's defaults;
//              exact: no flash attention and an F32 KV cache, mbd's scoring settings
//   MAX_TOKENS gen: new tokens per prompt
//   CTX        tokens per sequence
// It prints one line: tokens=N seconds=S (S: the decoding loop, after loading).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include "llama.h"

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char *text, void *ud) {
	(void)ud;
	if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

// read_lines reads INPUT, unescaping each line in place; it returns the number of lines.
static int read_lines(const char *path, char ***lines) {
	FILE *f = fopen(path, "rb");
	if (!f) return -1;
	int n = 0, cap = 64;
	*lines = malloc(cap * sizeof(char *));
	char *line = NULL;
	size_t len = 0;
	ssize_t got;
	while ((got = getline(&line, &len, f)) > 0) {
		if (line[got - 1] == '\n') line[--got] = 0;
		// A raw TAB separates the fields; it becomes \x01, and an escaped \t becomes a TAB.
		char *out = malloc(got + 1), *o = out;
		for (char *p = line; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				*o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
			} else {
				*o++ = *p == '\t' ? '\x01' : *p;
			}
		}
		*o = 0;
		if (n == cap) *lines = realloc(*lines, (cap *= 2) * sizeof(char *));
		(*lines)[n++] = out;
	}
	free(line);
	fclose(f);
	return n;
}

static int tokenize(const struct llama_vocab *v, const char *text, int add_special, llama_token **out) {
	int len = strlen(text);
	int n = -llama_tokenize(v, text, len, NULL, 0, add_special, 0);
	*out = malloc((n + 1) * sizeof(llama_token));
	return llama_tokenize(v, text, len, *out, n + 1, add_special, 0);
}

static void add(struct llama_batch *b, llama_token t, llama_pos pos, llama_seq_id seq, int logits) {
	int i = b->n_tokens++;
	b->token[i] = t;
	b->pos[i] = pos;
	b->n_seq_id[i] = 1;
	b->seq_id[i][0] = seq;
	b->logits[i] = logits;
}

static double logprob(const float *logits, int n_vocab, llama_token tok) {
	float mx = logits[0];
	for (int i = 1; i < n_vocab; i++) if (logits[i] > mx) mx = logits[i];
	double sum = 0;
	for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
	return (double)logits[tok] - mx - log(sum);
}

struct slot {
	int active, req, fed, pos, ntok, has_next, logit_idx, n_prompt;
	llama_token next, *prompt;
	struct llama_sampler *smpl;
	char text[8192];
	int text_len;
};

static long generate(struct llama_context *ctx, const struct llama_vocab *v, char **prompts, int n_req,
		int n_seq, int n_batch, int max_tokens) {
	struct llama_batch batch = llama_batch_init(n_batch, 0, 1);
	struct slot *slots = calloc(n_seq, sizeof(struct slot));
	llama_memory_t mem = llama_get_memory(ctx);
	long tokens = 0;
	int next = 0;
	for (;;) {
		for (int i = 0; i < n_seq; i++) {
			struct slot *s = &slots[i];
			if (s->active || next >= n_req) continue;
			memset(s, 0, sizeof *s);
			s->active = 1;
			s->req = next;
			s->n_prompt = tokenize(v, prompts[next], 1, &s->prompt);
			s->smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
			llama_sampler_chain_add(s->smpl, llama_sampler_init_temp(0.8f));
			llama_sampler_chain_add(s->smpl, llama_sampler_init_dist(next));
			next++;
		}
		batch.n_tokens = 0;
		int active = 0;
		for (int i = 0; i < n_seq; i++) {
			struct slot *s = &slots[i];
			if (!s->active) continue;
			active = 1;
			s->logit_idx = -1;
			if (s->has_next) {
				s->logit_idx = batch.n_tokens;
				add(&batch, s->next, s->pos++, i, 1);
				s->has_next = 0;
			}
		}
		if (!active) break;
		for (int i = 0; i < n_seq; i++) {
			struct slot *s = &slots[i];
			while (s->active && s->fed < s->n_prompt && batch.n_tokens < n_batch) {
				int last = s->fed == s->n_prompt - 1;
				if (last) s->logit_idx = batch.n_tokens;
				add(&batch, s->prompt[s->fed++], s->pos++, i, last);
			}
		}
		if (llama_decode(ctx, batch) != 0) {
			fprintf(stderr, "llama_decode failed\n");
			exit(1);
		}
		for (int i = 0; i < n_seq; i++) {
			struct slot *s = &slots[i];
			if (!s->active || s->logit_idx < 0) continue;
			llama_token t = llama_sampler_sample(s->smpl, ctx, s->logit_idx);
			int done = llama_vocab_is_eog(v, t);
			if (!done) {
				char piece[256];
				int n = llama_token_to_piece(v, t, piece, sizeof piece, 0, 0);
				if (n > 0 && s->text_len + n < (int)sizeof s->text) {
					memcpy(s->text + s->text_len, piece, n);
					s->text_len += n;
				}
				s->ntok++;
				done = s->ntok >= max_tokens;
			}
			if (!done) {
				s->next = t;
				s->has_next = 1;
				continue;
			}
			tokens += s->ntok;
			llama_sampler_free(s->smpl);
			free(s->prompt);
			llama_memory_seq_rm(mem, i, -1, -1);
			s->active = 0;
		}
	}
	free(slots);
	llama_batch_free(batch);
	return tokens;
}

struct seq {
	llama_token *toks;
	int n, n_prompt, fed;
	double sum;
};

static long score(struct llama_context *ctx, const struct llama_vocab *v, char **pairs, int n_req, int n_seq,
		int n_batch) {
	int n_vocab = llama_vocab_n_tokens(v);
	struct seq *seqs = calloc(n_req, sizeof(struct seq));
	for (int i = 0; i < n_req; i++) {
		char *tab = strchr(pairs[i], '\x01');
		if (!tab) {
			fprintf(stderr, "score input line %d: no tab\n", i + 1);
			exit(2);
		}
		*tab = 0;
		llama_token *p, *c;
		int np = tokenize(v, pairs[i], 1, &p), nc = tokenize(v, tab + 1, 0, &c);
		seqs[i].toks = malloc((np + nc) * sizeof(llama_token));
		memcpy(seqs[i].toks, p, np * sizeof(llama_token));
		memcpy(seqs[i].toks + np, c, nc * sizeof(llama_token));
		seqs[i].n = np + nc;
		seqs[i].n_prompt = np;
		free(p);
		free(c);
	}
	struct llama_batch batch = llama_batch_init(n_batch, 0, 1);
	int *want_seq = malloc(n_batch * sizeof(int));
	llama_memory_t mem = llama_get_memory(ctx);
	long tokens = 0;
	for (int start = 0; start < n_req; start += n_seq) {
		int end = start + n_seq < n_req ? start + n_seq : n_req;
		for (;;) {
			batch.n_tokens = 0;
			for (int g = start; g < end; g++) {
				struct seq *s = &seqs[g];
				while (s->fed < s->n && batch.n_tokens < n_batch) {
					int need = s->fed >= s->n_prompt - 1 && s->fed + 1 < s->n;
					want_seq[batch.n_tokens] = need ? g : -1;
					add(&batch, s->toks[s->fed], s->fed, g - start, need);
					s->fed++;
				}
			}
			if (batch.n_tokens == 0) break;
			if (llama_decode(ctx, batch) != 0) {
				fprintf(stderr, "llama_decode failed\n");
				exit(1);
			}
			for (int i = 0; i < batch.n_tokens; i++) {
				if (want_seq[i] < 0) continue;
				struct seq *s = &seqs[want_seq[i]];
				// batch position i holds token pos[i]; its logits predict token pos[i]+1.
				s->sum += logprob(llama_get_logits_ith(ctx, i), n_vocab, s->toks[batch.pos[i] + 1]);
				tokens++;
			}
		}
		for (int g = start; g < end; g++) llama_memory_seq_rm(mem, g - start, -1, -1);
	}
	free(want_seq);
	llama_batch_free(batch);
	return tokens;
}

int bench_main(int argc, char **argv) {
	if (argc != 9) {
		fprintf(stderr, "usage: %s gen|score MODEL INPUT PARALLEL THREADS fast|exact MAX_TOKENS CTX\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1], *model_path = argv[2], *input = argv[3], *attn = argv[6];
	int n_seq = atoi(argv[4]), threads = atoi(argv[5]), max_tokens = atoi(argv[7]), n_ctx = atoi(argv[8]);
	int exact = strcmp(attn, "exact") == 0;
	if (!exact && strcmp(attn, "fast") != 0) {
		fprintf(stderr, "attention %s: want fast or exact\n", attn);
		return 2;
	}
	char **lines;
	int n_req = read_lines(input, &lines);
	if (n_req <= 0) {
		fprintf(stderr, "%s: no input\n", input);
		return 2;
	}
	llama_log_set(quiet, NULL);
	llama_backend_init();
	struct llama_model *model = llama_model_load_from_file(model_path, llama_model_default_params());
	if (!model) {
		fprintf(stderr, "%s: cannot load\n", model_path);
		return 1;
	}
	const struct llama_vocab *v = llama_model_get_vocab(model);
	struct llama_context_params p = llama_context_default_params();
	p.n_ctx = n_ctx * n_seq;
	p.n_batch = 512;
	p.n_ubatch = 512;
	p.n_seq_max = n_seq;
	p.n_threads = threads;
	p.n_threads_batch = threads;
	p.kv_unified = false;
	p.no_perf = true;
	if (exact) {
		p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
		p.type_k = GGML_TYPE_F32;
		p.type_v = GGML_TYPE_F32;
	}
	struct llama_context *ctx = llama_init_from_model(model, p);
	if (!ctx) {
		fprintf(stderr, "cannot create a context\n");
		return 1;
	}
	int n_batch = llama_n_batch(ctx);
	double t0 = now();
	long tokens = strcmp(mode, "gen") == 0 ? generate(ctx, v, lines, n_req, n_seq, n_batch, max_tokens)
	                                       : score(ctx, v, lines, n_req, n_seq, n_batch);
	double t1 = now();
	printf("tokens=%ld seconds=%.4f\n", tokens, t1 - t0);
	fflush(stdout);
	llama_free(ctx);
	llama_model_free(model);
	return 0;
}
