package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// maxManifest bounds the size of a manifest read for its drop counts; a larger one is skipped.
const maxManifest = 1 << 20

// Unpaired is what one tool's manifest records of the texts it dropped because only one of the
// two models answered their prompt (mbd-cluster's and mbd-hypo's --unpaired drop).
type Unpaired struct {
	File string `json:"file"` // the table whose manifest (FILE.json) records the counts
	A    int64  `json:"a"`    // texts of model A dropped
	B    int64  `json:"b"`    // texts of model B dropped
}

// readUnpaired returns the drop counts recorded in the manifests of the clusters and hypotheses
// tables of dir, where they are present and some text was dropped. Manifests are optional: one
// that is missing, unreadable, too large or of another shape is skipped.
func readUnpaired(dir string, present map[string]bool) []Unpaired {
	var out []Unpaired
	for _, f := range []string{fileClusters, fileHypotheses} {
		if !present[f] {
			continue
		}
		path := filepath.Join(dir, f+".json")
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxManifest {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var m struct {
			Params struct {
				A *int64 `json:"unpaired_dropped_a"`
				B *int64 `json:"unpaired_dropped_b"`
			} `json:"params"`
		}
		if json.Unmarshal(b, &m) != nil || m.Params.A == nil || m.Params.B == nil || *m.Params.A < 0 || *m.Params.B < 0 {
			continue
		}
		if *m.Params.A+*m.Params.B > 0 {
			out = append(out, Unpaired{File: f, A: *m.Params.A, B: *m.Params.B})
		}
	}
	return out
}

// unpairedLine describes u for people.
func unpairedLine(u Unpaired, a, b string) string {
	return fmt.Sprintf("%s: %d texts of %s and %d of %s were left out because only one model answered their prompt (--unpaired).",
		u.File, u.A, a, u.B, b)
}
