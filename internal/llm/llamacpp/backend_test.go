package llamacpp

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm"
)

// The load-failure paths of GPU backends, on libraries built here with gcc: none of them is a
// real backend, and no test touches a device or a system library.

// fakeBackendC is a ggml backend with no devices whose ggml_backend_reg reports API_VERSION.
const fakeBackendC = `
#include <stddef.h>
struct reg_i {
	const char *(*get_name)(void *);
	size_t (*get_device_count)(void *);
	void *(*get_device)(void *, size_t);
	void *(*get_proc_address)(void *, const char *);
};
struct reg { int api_version; struct reg_i iface; void *context; };
static const char *name(void *r) { (void)r; return "fake"; }
static size_t count(void *r) { (void)r; return 0; }
static void *dev(void *r, size_t i) { (void)r; (void)i; return NULL; }
static void *proc(void *r, const char *n) { (void)r; (void)n; return NULL; }
static struct reg R = { API_VERSION, { name, count, dev, proc }, NULL };
void *ggml_backend_init(void) { return &R; }
`

// apiVersion is GGML_BACKEND_API_VERSION of the ggml sources the package is compiled from.
func apiVersion(t *testing.T) string {
	t.Helper()
	for _, f := range strings.Fields(os.Getenv("CGO_CPPFLAGS")) {
		inc, ok := strings.CutPrefix(f, "-I")
		if !ok || !strings.HasSuffix(inc, filepath.Join("ggml", "include")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(inc, "..", "src", "ggml-backend-impl.h"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`#define GGML_BACKEND_API_VERSION (\d+)`).FindSubmatch(b)
		if m == nil {
			t.Fatal("no GGML_BACKEND_API_VERSION in ggml-backend-impl.h")
		}
		return string(m[1])
	}
	t.Fatal(`CGO_CPPFLAGS names no ggml include folder (eval "$(make -s env)")`)
	return ""
}

// gccShared compiles C source into dir/name as a shared library.
func gccShared(t *testing.T, dir, name, src string, args ...string) string {
	t.Helper()
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("gcc", append([]string{"-shared", "-fPIC", "-o", out, c}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

// stamped makes a folder whose StampFile says stamp.
func stamped(t *testing.T, stamp string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StampFile), []byte(stamp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// repoSource makes GGMLSource read the ollama module's line in the repository's go.sum, as the
// build info of a tool built from it says.
func repoSource(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("../../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^(github.com/ollama/ollama v\S+) (h1:\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.sum has no line for github.com/ollama/ollama")
	}
	old := ggmlSource
	ggmlSource = func() (string, error) { return string(m[1]) + " " + string(m[2]), nil }
	t.Cleanup(func() { ggmlSource = old })
}

func TestBackendLoadFailures(t *testing.T) {
	repoSource(t)
	src, err := GGMLSource()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(src, "github.com/ollama/ollama v") || !strings.Contains(src, " h1:") {
		t.Fatalf("GGMLSource = %q, want the module, its version and its go.sum hash", src)
	}
	api := apiVersion(t)
	tests := []struct {
		name string
		lib  func(t *testing.T) string
		want string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "libggml-cuda.so") }, "no such file"},
		{"not ELF", func(t *testing.T) string {
			p := filepath.Join(stamped(t, src), "libggml-cuda.so")
			if err := os.WriteFile(p, []byte("not a library\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a shared library (no ELF header)"},
		{"executable", func(t *testing.T) string {
			dir := stamped(t, src)
			p := gccShared(t, dir, "prog", "int main(void) { return 0; }\n")
			cmd := exec.Command("gcc", "-no-pie", "-o", p, p+".c")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gcc: %v\n%s", err, b)
			}
			return p
		}, "an ELF file but not a shared library"},
		{"no stamp", func(t *testing.T) string {
			return gccShared(t, t.TempDir(), "libggml-cuda.so", "int x;\n")
		}, "no " + StampFile + " beside it"},
		{"other sources", func(t *testing.T) string {
			return gccShared(t, stamped(t, "github.com/ollama/ollama v0.0.1 h1:AAAA="), "libggml-cuda.so", "int x;\n")
		}, `built from "github.com/ollama/ollama v0.0.1 h1:AAAA="`},
		{"missing dependency", func(t *testing.T) string {
			dir := stamped(t, src)
			dep := gccShared(t, dir, "libmbdmissing.so", "int y;\n")
			lib := gccShared(t, dir, "libggml-cuda.so", "extern int y; int x(void) { return y; }\n", "-L"+dir, "-lmbdmissing")
			if err := os.Remove(dep); err != nil {
				t.Fatal(err)
			}
			return lib
		}, "libmbdmissing.so: cannot open shared object file"},
		{"no entry point", func(t *testing.T) string {
			return gccShared(t, stamped(t, src), "libggml-cuda.so", "int x;\n")
		}, "not a ggml backend (no ggml_backend_init)"},
		{"API version", func(t *testing.T) string {
			return gccShared(t, stamped(t, src), "libggml-fake.so", fakeBackendC, "-DAPI_VERSION=1"+api)
		}, "incompatible API version (backend: 1" + api + ", current: " + api + ")"},
		{"no devices", func(t *testing.T) string {
			return gccShared(t, stamped(t, src), "libggml-fake.so", fakeBackendC, "-DAPI_VERSION="+api)
		}, "fake has no devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := tt.lib(t)
			err := LoadBackend(lib)
			var be *BackendError
			if !errors.As(err, &be) || be.ExitCode() != 2 {
				t.Fatalf("LoadBackend(%s) = %v, want a BackendError", lib, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), lib) {
				t.Errorf("LoadBackend(%s) = %q, want it to name the file and say %q", lib, err, tt.want)
			}
		})
	}
	// None of them left a device behind, and a model cannot ask for GPU layers.
	ds, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Type != "cpu" {
			t.Errorf("device %+v registered by a refused backend", d)
		}
	}
}

func TestGPULayersWithoutBackend(t *testing.T) {
	path, _, _ := tinyModels(t)
	for _, n := range []int{1, GPULayersAll} {
		_, err := Load(Options{Path: path, GPULayers: n, Threads: 1})
		var be *BackendError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), "no GPU backend is loaded") {
			t.Errorf("gpu-layers=%s: Load = %v, want a BackendError saying no GPU backend is loaded", gpuLayersString(n), err)
		}
	}
	m, err := Load(Options{Path: path, Threads: 1})
	if err != nil {
		t.Fatalf("gpu-layers=0: %v", err)
	}
	m.Close()
}

func TestDevicesCPU(t *testing.T) {
	ds, err := Devices()
	if err != nil || len(ds) == 0 || ds[0].Type != "cpu" || ds[0].Backend != "CPU" || ds[0].Name == "" {
		t.Fatalf("Devices() = %+v, %v, want the CPU first", ds, err)
	}
}

func TestResolveBackend(t *testing.T) {
	repoSource(t)
	t.Setenv("MBD_GGML_CACHE", "/cache")
	v := GGMLVersion()
	if !strings.HasPrefix(v, "v") {
		t.Fatalf("GGMLVersion() = %q", v)
	}
	for _, tt := range []struct{ spec, want, err string }{
		{"cuda", "/cache/" + v + "/cuda/libggml-cuda.so", ""},
		{"/x/libggml-cuda.so", "/x/libggml-cuda.so", ""},
		{"lib/libggml-cuda.so", "lib/libggml-cuda.so", ""},
		{"libggml-cuda.so", "libggml-cuda.so", ""},
		{"", "", "no GPU backend named"},
		{"CUDA!", "", `GPU backend "CUDA!": want a name`},
	} {
		got, err := ResolveBackend(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ResolveBackend(%q) = %q, %v, want error %q", tt.spec, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ResolveBackend(%q) = %q, %v, want %q", tt.spec, got, err, tt.want)
		}
	}
}

func TestOffloadSummary(t *testing.T) {
	lines := []string{
		"llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H100 80GB HBM3) (0000:00:00.0) - 80000 MiB free",
		"load_tensors: offloading 16 repeating layers to GPU",
		"load_tensors: offloading output layer to GPU",
		"load_tensors: offloaded 17/17 layers to GPU",
	}
	devices, layers := offloadSummary(lines)
	if len(devices) != 1 || !strings.HasPrefix(devices[0], "CUDA0 (NVIDIA H100") || layers != "17/17 layers" {
		t.Errorf("offloadSummary = %q, %q", devices, layers)
	}
	if d, l := offloadSummary(nil); d != nil || l != "" {
		t.Errorf("offloadSummary(nil) = %q, %q", d, l)
	}
}

func TestCopyBandwidthCPU(t *testing.T) {
	c, err := CopyBandwidth(1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.Device != "CPU" || c.Bytes != 1<<20 || c.Copies != 3 || c.Seconds <= 0 || c.BytesPerSec <= 0 {
		t.Errorf("CopyBandwidth = %+v", c)
	}
	if _, err := CopyBandwidth(0, 1); err == nil {
		t.Error("CopyBandwidth(0, 1): no error")
	}
}

func TestArchCovers(t *testing.T) {
	for _, tc := range []struct {
		archs string
		cc    int
		want  bool
	}{
		{"90", 90, true},
		{"90", 89, false},
		{"80", 90, true}, // PTX for 8.0, compiled by the driver
		{"80-real", 90, false},
		{"80-virtual", 90, true},
		{"80;90-real", 90, true},
		{"86;89", 80, false},
		{"90a", 90, true},
		{"90a", 100, false}, // architecture-specific code runs on 9.0 only
		{"100", 90, false},
		{"native", 75, true},
		{"all-major", 75, true},
		{"", 90, false},
		{"sm_90", 90, false},
	} {
		if got := archCovers(tc.archs, tc.cc); got != tc.want {
			t.Errorf("archCovers(%q, %d) = %v, want %v", tc.archs, tc.cc, got, tc.want)
		}
	}
}

func TestCPUOnly(t *testing.T) {
	path, _, _ := tinyModels(t)
	if err := (Options{Path: path, CPUOnly: true, GPULayers: 2}).Check(); err == nil || !strings.Contains(err.Error(), "a CPU-only model offloads no layer") {
		t.Errorf("CPUOnly with gpu-layers=2: %v", err)
	}
	reqs := []llm.ScoreRequest{{ID: "a", Prompt: "Hello", Completion: "the otter swims"}}
	var scores [][]llm.ScoreResult
	for _, cpuOnly := range []bool{false, true} {
		m, err := Load(Options{Path: path, CPUOnly: cpuOnly, Threads: 1, Parallel: 1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Score(context.Background(), reqs)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		scores = append(scores, s)
	}
	if !slices.Equal(scores[0][0].Logprobs, scores[1][0].Logprobs) || len(scores[0][0].Logprobs) == 0 {
		t.Errorf("CPUOnly changed the scores on the CPU: %v, %v", scores[0][0].Logprobs, scores[1][0].Logprobs)
	}
}
