#include <dlfcn.h>
#include <string.h>
#include <time.h>
#include "backend.h"
#include "ggml-alloc.h"

extern void mbdLog(int level, char *text);

static void mbd_backend_log_cb(enum ggml_log_level level, const char *text, void *ud) {
	(void)ud;
	mbdLog((int)level, (char *)text);
}

// mbd_dl_open opens a library without binding its symbols globally; on failure it copies dlerror
// into err and returns NULL.
void *mbd_dl_open(const char *path, char *err, size_t n) {
	void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL && n > 0) {
		const char *e = dlerror();
		strncpy(err, e ? e : "dlopen failed", n - 1);
		err[n - 1] = '\0';
	}
	return h;
}

bool mbd_dl_has(void *h, const char *sym) { return dlsym(h, sym) != NULL; }

void mbd_dl_close(void *h) { dlclose(h); }

// mbd_dl_set_log routes the logs of the library's own copy of ggml-base (a backend built with
// CMake links libggml-base.so, a second copy of what cgo compiled into the binary) to mbdLog.
void mbd_dl_set_log(void *h) {
	void (*set)(ggml_log_callback, void *) = (void (*)(ggml_log_callback, void *))dlsym(h, "ggml_log_set");
	if (set != NULL) set(mbd_backend_log_cb, NULL);
}

// mbd_copy_seconds copies an n-byte tensor to another on dev iters times (after one copy to warm
// up) and returns the seconds the iters copies took, or -1 when dev cannot hold the two tensors.
// Each copy is synchronous (ggml_backend_tensor_copy: a device-to-device copy on a GPU, memcpy on
// the CPU).
double mbd_copy_seconds(ggml_backend_dev_t dev, size_t n, int iters) {
	struct ggml_init_params ip = {2 * ggml_tensor_overhead(), NULL, true};
	struct ggml_context *ctx = ggml_init(ip);
	if (ctx == NULL) return -1;
	struct ggml_tensor *a = ggml_new_tensor_1d(ctx, GGML_TYPE_I8, (int64_t)n);
	struct ggml_tensor *b = ggml_new_tensor_1d(ctx, GGML_TYPE_I8, (int64_t)n);
	ggml_backend_buffer_t buf = ggml_backend_alloc_ctx_tensors_from_buft(ctx, ggml_backend_dev_buffer_type(dev));
	if (buf == NULL) {
		ggml_free(ctx);
		return -1;
	}
	ggml_backend_buffer_clear(buf, 1);
	ggml_backend_tensor_copy(a, b);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < iters; i++) ggml_backend_tensor_copy(a, b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ggml_backend_buffer_free(buf);
	ggml_free(ctx);
	return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
}
