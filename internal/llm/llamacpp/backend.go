package llamacpp

// GPU backends. ggml keeps a registry of backends (CPU is compiled in); a GPU backend is a shared
// library, libggml-cuda.so, that ggml_backend_load opens and registers, after which llama.cpp
// offloads Options.GPULayers layers to its devices. cgo cannot compile CUDA, so the library is
// built with CMake from the same ollama module sources the binary was compiled from
// (scripts/gpu/build-cuda.sh), and that library links its own libggml-base.so: the two copies of
// ggml exchange tensors and buffers by struct layout, so they must come from the same sources.
//
// LoadBackend checks that before any of the library's code runs: the file must exist and be an
// ELF shared object, the stamp beside it (StampFile, written by the build script) must name the
// module version and go.sum hash this binary was built with (read from its build info), and the
// library must export ggml_backend_init. ggml_backend_load then refuses a backend whose
// ggml_backend_reg.api_version differs from GGML_BACKEND_API_VERSION, and LoadBackend refuses
// one with no devices (a CUDA library on a machine without a GPU) or whose kernels were built for
// CUDA architectures none of which runs on a device (BuildInfoFile). Each refusal is a
// *BackendError, which tools report with exit status 2.

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "backend.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// StampFile is the file, beside a backend library, that names the sources the library was built
// from: one line, the ollama module's go.sum line without "/go.mod" ("github.com/ollama/ollama
// VERSION h1:HASH").
const StampFile = "ggml-source.txt"

// GPULayersAll offloads every layer (gpu-layers=all).
const GPULayersAll = math.MaxInt32

const ollamaModule = "github.com/ollama/ollama"

// BackendError is a GPU backend that cannot be used. Tools exit with status 2 on it.
type BackendError struct{ Err error }

func (e *BackendError) Error() string { return e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

// ExitCode is 2, the status of bad input.
func (e *BackendError) ExitCode() int { return 2 }

func backendErrorf(format string, args ...any) error {
	return &BackendError{Err: fmt.Errorf(format, args...)}
}

// GGMLSource is the stamp line of the ggml sources compiled into this binary, from its build
// info (test binaries have none: their tests set ggmlSource).
func GGMLSource() (string, error) { return ggmlSource() }

var ggmlSource = buildInfoSource

func buildInfoSource() (string, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errors.New("the binary has no build info")
	}
	for _, d := range bi.Deps {
		if d.Path != ollamaModule {
			continue
		}
		if d.Replace != nil {
			d = d.Replace
		}
		if d.Sum == "" {
			return "", fmt.Errorf("%s is replaced by %s without a go.sum hash", ollamaModule, d.Path)
		}
		return d.Path + " " + d.Version + " " + d.Sum, nil
	}
	return "", fmt.Errorf("%s is not among the binary's modules", ollamaModule)
}

// GGMLVersion is the version of the ollama module whose ggml the binary runs, "" when unknown.
func GGMLVersion() string {
	s, err := GGMLSource()
	if err != nil {
		return ""
	}
	return strings.Fields(s)[1]
}

// CacheDir is where scripts/gpu/build-cuda.sh puts backends: $MBD_GGML_CACHE, or mbd/ggml under
// the user's cache folder ($XDG_CACHE_HOME or ~/.cache).
func CacheDir() (string, error) {
	if d := os.Getenv("MBD_GGML_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "mbd", "ggml"), nil
}

// ResolveBackend turns a backend name into the library's path: "cuda" is
// CacheDir()/VERSION/cuda/libggml-cuda.so for this binary's module VERSION; anything with a slash
// or ending in .so is a path, returned as it is.
func ResolveBackend(spec string) (string, error) {
	if spec == "" {
		return "", backendErrorf("no GPU backend named: want a name (cuda) or a path to libggml-NAME.so")
	}
	if strings.Contains(spec, "/") || strings.HasSuffix(spec, ".so") {
		return spec, nil
	}
	for _, r := range spec {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "", backendErrorf("GPU backend %q: want a name such as cuda, or a path to libggml-NAME.so", spec)
		}
	}
	dir, err := CacheDir()
	if err != nil {
		return "", &BackendError{Err: fmt.Errorf("GPU backend %s: %w", spec, err)}
	}
	v := GGMLVersion()
	if v == "" {
		v = "unknown"
	}
	return filepath.Join(dir, v, spec, "libggml-"+spec+".so"), nil
}

var backends struct {
	sync.Mutex
	loaded map[string]string // path -> registered backend name
}

// UseBackend loads the backend a name or path names (ResolveBackend, LoadBackend).
func UseBackend(spec string) error {
	path, err := ResolveBackend(spec)
	if err != nil {
		return err
	}
	if err := backendInit(); err != nil {
		return err
	}
	return LoadBackend(path)
}

// LoadBackend checks a ggml backend library (such as libggml-cuda.so) and registers it, so that
// models loaded afterwards with GPULayers > 0 run on its devices. Loading the same path again does
// nothing.
func LoadBackend(path string) error {
	llamaInit()
	backends.Lock()
	defer backends.Unlock()
	if _, ok := backends.loaded[path]; ok {
		return nil
	}
	if err := checkBackendFile(path); err != nil {
		return err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr [512]C.char
	h := C.mbd_dl_open(cpath, &cerr[0], C.size_t(len(cerr)))
	if h == nil {
		return backendErrorf("GPU backend %s: cannot be loaded: %s (are the CUDA runtime libraries installed?)", path, C.GoString(&cerr[0]))
	}
	// The handle stays open once ggml has the backend: ggml keeps backends loaded for the life of
	// the process.
	cinit := C.CString("ggml_backend_init")
	defer C.free(unsafe.Pointer(cinit))
	if !C.mbd_dl_has(h, cinit) {
		C.mbd_dl_close(h)
		return backendErrorf("GPU backend %s: not a ggml backend (no ggml_backend_init)", path)
	}
	C.mbd_dl_set_log(h)
	clearLogErrors()
	reg := C.ggml_backend_load(cpath)
	if reg == nil {
		return backendErrorf("GPU backend %s: ggml refused it: %s", path, lastLogError())
	}
	name := C.GoString(C.ggml_backend_reg_name(reg))
	if C.ggml_backend_reg_dev_count(reg) == 0 {
		C.ggml_backend_unload(reg)
		return backendErrorf("GPU backend %s: %s has no devices (no GPU, or its driver is not loaded: see nvidia-smi)", path, name)
	}
	if err := checkArchitectures(path, reg); err != nil {
		C.ggml_backend_unload(reg)
		return err
	}
	if backends.loaded == nil {
		backends.loaded = map[string]string{}
	}
	backends.loaded[path] = name
	slog.Info("ggml backend loaded", "backend", name, "path", path, "devices", deviceNames(reg))
	return nil
}

// BuildInfoFile, beside a backend library, has the build script's "architectures LIST" line: the
// CUDA architectures the kernels were compiled for.
const BuildInfoFile = "build-info.txt"

// checkArchitectures refuses a backend whose kernels were compiled for none of the architectures
// a device can run (its first kernel would fail), when the build info says which they are.
func checkArchitectures(path string, reg C.ggml_backend_reg_t) error {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), BuildInfoFile))
	if err != nil {
		return nil
	}
	var archs string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "architectures "); ok {
			archs = strings.TrimSpace(v)
		}
	}
	if archs == "" {
		return nil
	}
	for i := range C.ggml_backend_reg_dev_count(reg) {
		d := C.ggml_backend_reg_dev_get(reg, i)
		var p C.struct_ggml_backend_dev_props
		C.ggml_backend_dev_get_props(d, &p)
		if p.compute_major <= 0 {
			continue
		}
		cc := int(p.compute_major)*10 + int(p.compute_minor)
		if !archCovers(archs, cc) {
			return backendErrorf("GPU backend %s: built for CUDA architectures %s, but %s has compute capability %d.%d: rebuild it with scripts/gpu/build-cuda.sh --arch %d",
				path, archs, C.GoString(C.ggml_backend_dev_name(d)), int(p.compute_major), int(p.compute_minor), cc)
		}
	}
	return nil
}

// archCovers reports whether kernels built for the CMake CUDA architectures archs ("90",
// "80;90-real", "native", ...) run on a device of compute capability cc (90 for 9.0): compiled
// for it exactly, or as PTX (an entry without -real) for an earlier one, which the driver
// compiles for the device.
func archCovers(archs string, cc int) bool {
	for _, a := range strings.Split(archs, ";") {
		switch a {
		case "native", "all", "all-major":
			return true
		}
		num, suffix := a, ""
		if i := strings.IndexByte(a, '-'); i >= 0 {
			num, suffix = a[:i], a[i+1:]
		}
		digits := strings.TrimRight(num, "af") // 90a: the architecture-specific features of 9.0
		n, err := strconv.Atoi(digits)
		if err != nil {
			continue
		}
		if n == cc || n < cc && suffix != "real" && digits == num {
			return true
		}
	}
	return false
}

// checkBackendFile refuses a missing file, a file that is not an ELF shared object, and a library
// built from other sources than the binary's ggml.
func checkBackendFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return backendErrorf("GPU backend %s: no such file (build it with scripts/gpu/build-cuda.sh)", path)
		}
		return &BackendError{Err: fmt.Errorf("GPU backend: %w", err)}
	}
	defer f.Close()
	var head [18]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || !bytes.Equal(head[:4], []byte("\x7fELF")) {
		return backendErrorf("GPU backend %s: not a shared library (no ELF header)", path)
	}
	if head[16] != 3 || head[17] != 0 { // e_type ET_DYN, little-endian
		return backendErrorf("GPU backend %s: an ELF file but not a shared library", path)
	}
	want, err := GGMLSource()
	if err != nil {
		return backendErrorf("GPU backend %s: cannot tell which ggml this binary has: %v", path, err)
	}
	stamp := filepath.Join(filepath.Dir(path), StampFile)
	b, err := os.ReadFile(stamp)
	if err != nil {
		return backendErrorf("GPU backend %s: no %s beside it naming the ggml sources it was built from (build it with scripts/gpu/build-cuda.sh)", path, StampFile)
	}
	if got := strings.TrimSpace(string(b)); got != want {
		return backendErrorf("GPU backend %s: built from %q, but this binary's ggml is %q: rebuild it with scripts/gpu/build-cuda.sh", path, got, want)
	}
	return nil
}

func deviceNames(reg C.ggml_backend_reg_t) string {
	var names []string
	for i := range C.ggml_backend_reg_dev_count(reg) {
		d := C.ggml_backend_reg_dev_get(reg, i)
		names = append(names, fmt.Sprintf("%s (%s)", C.GoString(C.ggml_backend_dev_name(d)), C.GoString(C.ggml_backend_dev_description(d))))
	}
	return strings.Join(names, ", ")
}

// Device is one device in ggml's registry.
type Device struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Backend     string `json:"backend"`
	Type        string `json:"type"` // cpu, gpu, igpu or accel
	FreeBytes   uint64 `json:"free_bytes"`
	TotalBytes  uint64 `json:"total_bytes"`
}

// Devices lists the devices of every registered backend: the CPU, and those of the backends
// loaded with LoadBackend. The error is that of the MBD_GGML_BACKEND library.
func Devices() ([]Device, error) {
	if err := backendInit(); err != nil {
		return nil, err
	}
	backends.Lock()
	defer backends.Unlock()
	var out []Device
	for i := range C.ggml_backend_dev_count() {
		d := C.ggml_backend_dev_get(i)
		var free, total C.size_t
		C.ggml_backend_dev_memory(d, &free, &total)
		out = append(out, Device{
			Name:        C.GoString(C.ggml_backend_dev_name(d)),
			Description: C.GoString(C.ggml_backend_dev_description(d)),
			Backend:     C.GoString(C.ggml_backend_reg_name(C.ggml_backend_dev_backend_reg(d))),
			Type:        devType(C.ggml_backend_dev_type(d)),
			FreeBytes:   uint64(free),
			TotalBytes:  uint64(total),
		})
	}
	return out, nil
}

func devType(t C.enum_ggml_backend_dev_type) string {
	switch t {
	case C.GGML_BACKEND_DEVICE_TYPE_CPU:
		return "cpu"
	case C.GGML_BACKEND_DEVICE_TYPE_GPU:
		return "gpu"
	case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
		return "igpu"
	}
	return "accel"
}

// gpuDevices counts the registered devices llama.cpp offloads layers to.
func gpuDevices() int {
	n := 0
	for i := range C.ggml_backend_dev_count() {
		switch C.ggml_backend_dev_type(C.ggml_backend_dev_get(i)) {
		case C.GGML_BACKEND_DEVICE_TYPE_GPU, C.GGML_BACKEND_DEVICE_TYPE_IGPU:
			n++
		}
	}
	return n
}

// offloadSummary is what llama.cpp logged about devices and offloaded layers while loading a
// model ("using device CUDA0 (...)", "offloaded 17/17 layers to GPU").
func offloadSummary(lines []string) (devices []string, layers string) {
	for _, l := range lines {
		if _, rest, ok := strings.Cut(l, "using device "); ok {
			devices = append(devices, strings.TrimSpace(rest))
		}
		if _, rest, ok := strings.Cut(l, "offloaded "); ok {
			layers = strings.TrimSuffix(strings.TrimSpace(rest), " to GPU")
		}
	}
	return devices, layers
}

func gpuLayersString(n int) string {
	if n == GPULayersAll {
		return "all"
	}
	return fmt.Sprint(n)
}

// Copy is a measured copy bandwidth.
type Copy struct {
	Device      string  `json:"device"`
	Bytes       int64   `json:"bytes"`
	Copies      int     `json:"copies"`
	Seconds     float64 `json:"seconds"`
	BytesPerSec float64 `json:"bytes_per_sec"` // bytes read plus bytes written, per second
}

// CopyBandwidth copies a tensor of n bytes to another on the first GPU device (the CPU when no
// GPU backend is loaded), iters times, and counts each copy as 2n bytes moved (read and written),
// the way device memory bandwidth is quoted.
func CopyBandwidth(n int64, iters int) (Copy, error) {
	if n <= 0 || iters <= 0 {
		return Copy{}, fmt.Errorf("copy bandwidth: want positive bytes and copies, got %d and %d", n, iters)
	}
	if err := backendInit(); err != nil {
		return Copy{}, err
	}
	dev := C.ggml_backend_dev_by_type(C.GGML_BACKEND_DEVICE_TYPE_GPU)
	if dev == nil {
		dev = C.ggml_backend_dev_by_type(C.GGML_BACKEND_DEVICE_TYPE_CPU)
	}
	c := Copy{Device: C.GoString(C.ggml_backend_dev_name(dev)), Bytes: n, Copies: iters}
	c.Seconds = float64(C.mbd_copy_seconds(dev, C.size_t(n), C.int(iters)))
	if c.Seconds < 0 {
		return c, fmt.Errorf("copy bandwidth: %s cannot hold two tensors of %d bytes", c.Device, n)
	}
	if c.Seconds > 0 {
		c.BytesPerSec = float64(2*n) * float64(iters) / c.Seconds
	}
	return c, nil
}
