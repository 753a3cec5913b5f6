// Package internal_test checks the layering of mbd's packages: commands over stages over services
// over ground. Each package may import only packages of its own layer or a lower one, and only the
// command layer may import urfave/cli or the command helpers.
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/mbd-dev/mbd/internal/"

// Layers, lowest first. A package missing here fails the test: place it when you add it.
var layers = []struct {
	name     string
	packages []string
}{
	{"ground", []string{"assign", "atomicfile", "gguf", "manifest", "progress", "records", "schema",
		"stats", "table", "table/tabletest", "vec", "version"}},
	{"service", []string{"assistant", "bpe", "cluster", "embed", "endpoint", "hub", "hub/hubtest", "lexical", "llm",
		"llm/backends", "llm/llamacpp", "llm/openaicompat", "llm/openaicompat/vllmtest", "llm/synthmodel",
		"modelconvert", "modelconvert/hfref", "modelconvert/hftest", "roles", "roles/rolestest", "synth", "tinymodel", "train"}},
	{"stage", []string{"clustering", "finetune", "gen", "hypo", "lens", "match", "prompts",
		"report", "scoring", "tableinfo", "truth", "validate", "weightdiff"}},
	{"command", []string{"cli", "cli/clitest", "cmd/*", "e2e"}},
}

func layerOf(pkg string) (int, bool) {
	for i, l := range layers {
		for _, p := range l.packages {
			if p == pkg || strings.HasSuffix(p, "/*") && strings.HasPrefix(pkg, strings.TrimSuffix(p, "*")) {
				return i, true
			}
		}
	}
	return 0, false
}

func TestLayers(t *testing.T) {
	imports := map[string]map[string]bool{} // package → imported paths (non-test files)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			imports[pkg][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 40 {
		t.Fatalf("found %d packages; is the test running in internal/?", len(imports))
	}
	for pkg, imps := range imports {
		if pkg == "." {
			continue
		}
		from, ok := layerOf(pkg)
		if !ok {
			t.Errorf("package %s is in no layer: add it to layers", pkg)
			continue
		}
		for imp := range imps {
			if strings.HasPrefix(imp, "github.com/urfave/cli") && layers[from].name != "command" {
				t.Errorf("%s (%s) imports %s: only the command layer may", pkg, layers[from].name, imp)
			}
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			to, ok := layerOf(dep)
			if !ok {
				continue // reported as its own package
			}
			if to > from {
				t.Errorf("%s (%s) imports %s (%s): a package may import only its own layer or lower ones", pkg, layers[from].name, dep, layers[to].name)
			}
			if pkg == "cli" && (strings.HasPrefix(dep, "llm") || dep == "assistant" || dep == "roles") {
				t.Errorf("cli imports %s: every tool imports cli, and tools without models must not link llama.cpp", dep)
			}
			if strings.HasPrefix(dep, "cmd/") && !strings.HasPrefix(pkg, "cmd/") && pkg != "e2e" {
				t.Errorf("%s imports the command package %s", pkg, dep)
			}
		}
	}
}
