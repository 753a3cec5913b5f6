#include <dlfcn.h>
#include <string.h>
#include "backend.h"

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

// mbd_dl_set_log routes the logs of the library's own copy of ggml-base (a backend built with
// CMake links libggml-base.so, a second copy of what cgo compiled into the binary) to mbdLog.
void mbd_dl_set_log(void *h) {
	void (*set)(ggml_log_callback, void *) = (void (*)(ggml_log_callback, void *))dlsym(h, "ggml_log_set");
	if (set != NULL) set(mbd_backend_log_cb, NULL);
}
