package report

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadUnpaired(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clusters string // clusters.parquet.json, or "" for none
		hypo     string // hypotheses.parquet.json, or "" for none
		want     []Unpaired
	}{
		{name: "no manifests"},
		{name: "counts in both", clusters: `{"params":{"unpaired_dropped_a":0,"unpaired_dropped_b":34}}`,
			hypo: `{"params":{"unpaired_dropped_a":2,"unpaired_dropped_b":1}}`,
			want: []Unpaired{{fileClusters, 0, 34}, {fileHypotheses, 2, 1}}},
		{name: "nothing dropped", clusters: `{"params":{"unpaired_dropped_a":0,"unpaired_dropped_b":0}}`},
		{name: "not recorded (--unpaired keep)", clusters: `{"params":{"unpaired":"keep"}}`},
		{name: "one count missing", clusters: `{"params":{"unpaired_dropped_a":3}}`},
		{name: "negative", clusters: `{"params":{"unpaired_dropped_a":-1,"unpaired_dropped_b":3}}`},
		{name: "not JSON", clusters: `{"params":`, hypo: `{"params":{"unpaired_dropped_a":1,"unpaired_dropped_b":0}}`,
			want: []Unpaired{{fileHypotheses, 1, 0}}},
		{name: "wrong type", clusters: `{"params":{"unpaired_dropped_a":"x","unpaired_dropped_b":3}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, m := range map[string]string{fileClusters: tc.clusters, fileHypotheses: tc.hypo} {
				if m != "" {
					if err := os.WriteFile(filepath.Join(dir, f+".json"), []byte(m), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := readUnpaired(dir, map[string]bool{fileClusters: true, fileHypotheses: true})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
