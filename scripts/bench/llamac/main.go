// Command llamac is the C reference program of scripts/bench/llama.sh (bench.c): it calls
// llama.cpp's C API directly, with no Go in the loop. This file only links it against the llama.cpp
// sources vendored in the Go module, compiled by cgo with the flags `make -s env` prints (the same
// code and flags as mbd), and hands it the arguments.
//
// Build from the module root: go build -o llamac ./scripts/bench/llamac
package main

/*
#cgo LDFLAGS: -lm
int bench_main(int argc, char **argv);
*/
import "C"

import (
	"os"
	"unsafe"

	_ "github.com/ollama/ollama/llama/llama.cpp/src" // llama.cpp and ggml, compiled through cgo
)

func main() {
	argv := make([]*C.char, len(os.Args))
	for i, a := range os.Args {
		argv[i] = C.CString(a)
	}
	os.Exit(int(C.bench_main(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])))))
}
