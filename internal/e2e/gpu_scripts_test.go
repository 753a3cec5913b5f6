package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBuildCUDAScript checks scripts/gpu/build-cuda.sh on the pinned ollama sources from Go's
// module cache, with a fake nvcc and nvidia-smi: packing, checking the sources, detecting and
// refusing architectures and compilers, and the commands --dry-run prints. Nothing is compiled.
func TestBuildCUDAScript(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "gpu", "build-cuda.sh")
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	for name, body := range map[string]string{
		"nvcc":       "#!/bin/sh\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n",
		"nvidia-smi": "#!/bin/sh\necho 9.0\n",
		"notnvcc":    "#!/bin/sh\necho hello\n",
	} {
		writeFile(t, filepath.Join(bin, name), body, 0o755)
	}
	nvcc := filepath.Join(bin, "nvcc")
	cache := filepath.Join(work, "cache")
	// PATH without nvcc or nvidia-smi unless a case adds bin; go stays for the module cache.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	basePath := filepath.Dir(goBin) + ":/usr/bin:/bin"
	run := func(t *testing.T, env []string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+basePath, "MBD_GGML_CACHE="+cache, "MBD_CUDA_ARCH=", "CUDACXX=", "MBD_OLLAMA_SRC=")
		cmd.Env = append(cmd.Env, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}

	// Pack the pinned sources, then make a changed copy and one that names another version.
	archive := filepath.Join(work, "src.tar.gz")
	if rc, out, errOut := run(t, nil, "--pack-src", archive); rc != 0 || !strings.Contains(out, "packed github.com/ollama/ollama v") {
		t.Fatalf("--pack-src: exit %d\n%s%s", rc, out, errOut)
	}
	list, err := exec.Command("tar", "-tzf", archive).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ollama-src/ggml-source.txt", "ollama-src/SHA256SUMS", "ollama-src/CMakeLists.txt", "ollama-src/ml/backend/ggml/ggml/src/ggml-cuda/ggml-cuda.cu"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(list) {
			t.Errorf("the archive has no %s", want)
		}
	}
	repack := func(name, edit string) string {
		dir := filepath.Join(work, name)
		sh := `mkdir -p "$1" && tar -C "$1" -xzf "$2" && cd "$1" && ` + edit + ` && tar -czf "../$3" ollama-src`
		if b, err := exec.Command("bash", "-c", sh, "_", dir, archive, name+".tar.gz").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		return filepath.Join(work, name+".tar.gz")
	}
	changed := repack("changed", `echo "// changed" >>ollama-src/ml/backend/ggml/ggml/src/ggml.c`)
	other := repack("other", `echo "github.com/ollama/ollama v0.0.1 h1:AAAA=" >ollama-src/ggml-source.txt`)
	notPacked := filepath.Join(work, "notpacked.tar.gz")
	writeFile(t, notPacked, "not a tar file", 0o644)

	withBin := []string{"PATH=" + bin + ":" + basePath}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		rc   int
		want string // a regular expression matched against stdout and stderr together
	}{
		{"arch given", nil, []string{"--src-archive", archive, "--dry-run", "--arch", "80;90", "--nvcc", nvcc},
			0, `(?m)^ggml-cuda: github.com/ollama/ollama v\S+, CUDA 12.4 \(.*/bin/nvcc\), architectures 80;90, into .*/cache/v[^/]+/cuda\n` +
				`cmake -S .*/cache/v[^/]+/build-cuda-src/ollama-src -B .*/cache/v[^/]+/build-cuda (-G Ninja )?.*-DCMAKE_CUDA_ARCHITECTURES=80\\;90 .*\n` +
				`cmake --build .*/build-cuda --target ggml-cuda --parallel [0-9]+ \n`},
		{"arch from nvidia-smi, nvcc from PATH", withBin, []string{"--src-archive", archive, "--dry-run"},
			0, `CUDA 12.4 \(.*/bin/nvcc\), architectures 90,[^\n]*\ncmake -S .* -DCMAKE_CUDA_ARCHITECTURES=90 `},
		{"arch from the environment", append(withBin, "MBD_CUDA_ARCH=86"), []string{"--src-archive", archive, "--dry-run"},
			0, `architectures 86,`},
		{"the module folder", nil, []string{"--dry-run", "--arch", "90", "--nvcc", nvcc},
			0, `cmake -S \S+/github.com/ollama/ollama@v\S+ -B `},
		{"jobs", nil, []string{"--src-archive", archive, "--dry-run", "--arch", "90", "--nvcc", nvcc, "--jobs", "3"},
			0, `--target ggml-cuda --parallel 3 `},
		{"no nvcc", nil, []string{"--src-archive", archive, "--dry-run", "--arch", "90"},
			2, `build-cuda.sh: nvcc not found: install the CUDA toolkit, or give --nvcc PATH \(or CUDACXX\)`},
		{"nvcc not there", nil, []string{"--src-archive", archive, "--dry-run", "--arch", "90", "--nvcc", filepath.Join(work, "none", "nvcc")},
			2, `--nvcc .*/none/nvcc: not an executable`},
		{"not nvcc", []string{"CUDACXX=" + filepath.Join(bin, "notnvcc")}, []string{"--src-archive", archive, "--dry-run", "--arch", "90"},
			2, `notnvcc --version names no CUDA release: not nvcc\?`},
		{"no nvidia-smi", nil, []string{"--src-archive", archive, "--dry-run", "--nvcc", nvcc},
			2, `nvidia-smi not found to tell the GPU's architecture: give --arch`},
		{"arch with a dot", nil, []string{"--src-archive", archive, "--dry-run", "--arch", "9.0", "--nvcc", nvcc},
			2, `--arch 9.0: want CUDA architectures such as 90 or "80;90"`},
		{"arch sm_90", nil, []string{"--src-archive", archive, "--dry-run", "--arch", "sm_90", "--nvcc", nvcc},
			2, `--arch sm_90: want`},
		{"changed sources", nil, []string{"--src-archive", changed, "--arch", "90", "--nvcc", nvcc},
			2, `ollama-src: files differ from its SHA256SUMS`},
		{"changed sources, dry run", nil, []string{"--src-archive", changed, "--dry-run", "--arch", "90", "--nvcc", nvcc},
			2, `files differ from its SHA256SUMS`},
		{"other version", nil, []string{"--src-archive", other, "--dry-run", "--arch", "90", "--nvcc", nvcc},
			2, `holds "github.com/ollama/ollama v0.0.1 h1:AAAA=", go.sum says "github.com/ollama/ollama v\S+ h1:\S+": pack the sources again`},
		{"not an archive", nil, []string{"--src-archive", notPacked, "--dry-run", "--arch", "90", "--nvcc", nvcc},
			2, `--src-archive .*notpacked.tar.gz: not a tar.gz made by --pack-src`},
		{"no Go", []string{"PATH=/usr/bin:/bin"}, []string{"--dry-run", "--arch", "90", "--nvcc", nvcc},
			2, `no Go here to find the github.com/ollama/ollama v\S+ sources: give --src DIR or --src-archive FILE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "no Go" {
				if _, err := os.Stat("/usr/bin/go"); err == nil {
					t.Skip("go is in /usr/bin")
				}
			}
			if tc.name == "no nvcc" {
				if _, err := os.Stat("/usr/local/cuda/bin/nvcc"); err == nil {
					t.Skip("the CUDA toolkit is installed")
				}
			}
			rc, out, errOut := run(t, tc.env, tc.args...)
			if rc != tc.rc || !regexp.MustCompile(tc.want).MatchString(out+errOut) {
				t.Errorf("exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s", rc, tc.rc, tc.want, out, errOut)
			}
			if tc.rc == 2 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("want one line on stderr, got:\n%s", errOut)
			}
		})
	}
	if _, err := os.Stat(cache); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	// Only the refused non-dry run unpacked anything; nothing was built or installed.
	if m, _ := filepath.Glob(filepath.Join(cache, "*", "cuda")); len(m) != 0 {
		t.Errorf("a dry run or a refusal installed %v", m)
	}
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}
