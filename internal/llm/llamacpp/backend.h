// C helpers for loading a ggml backend library (backend.go).
#ifndef MBD_LLAMACPP_BACKEND_H
#define MBD_LLAMACPP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include "ggml-backend.h"
#include "llama.h"

void *mbd_dl_open(const char *path, char *err, size_t n);
bool mbd_dl_has(void *h, const char *sym);
void mbd_dl_close(void *h);
void mbd_dl_set_log(void *h);
double mbd_copy_seconds(ggml_backend_dev_t dev, size_t n, int iters);

#endif
