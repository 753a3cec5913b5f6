// Package manifest writes the sidecar that records how a table was made: tool, version, arguments,
// parameters, seeds, input content hashes, row counts and wall time. For out.parquet the manifest is
// out.parquet.json, written atomically after the table itself.
package manifest

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/mbd-dev/mbd/internal/atomicfile"
	"github.com/mbd-dev/mbd/internal/table"
	"github.com/mbd-dev/mbd/internal/version"
)

// File is one input or output of a run.
type File struct {
	Path   string `json:"path"`
	Table  string `json:"table,omitempty"` // schema id, e.g. generations/v1; empty for non-table files
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Manifest describes one run of a tool.
type Manifest struct {
	Tool        string            `json:"tool"`
	Version     string            `json:"version"`
	GoVersion   string            `json:"go_version"`
	Args        []string          `json:"args"`
	Params      map[string]any    `json:"params,omitempty"`
	Seeds       map[string]uint64 `json:"seeds,omitempty"`
	Inputs      []File            `json:"inputs,omitempty"`
	Outputs     []File            `json:"outputs"`
	Started     time.Time         `json:"started"`
	WallSeconds float64           `json:"wall_seconds"`
}

// New starts the manifest of a run; args are the command-line arguments after the tool name.
func New(tool string, args []string) *Manifest {
	return &Manifest{
		Tool: tool, Version: version.String(), GoVersion: runtime.Version(), Args: args,
		Params: map[string]any{}, Seeds: map[string]uint64{}, Started: time.Now().UTC(),
	}
}

// Param records a parameter of the run.
func (m *Manifest) Param(name string, value any) { m.Params[name] = value }

// Seed records a seed of the run.
func (m *Manifest) Seed(name string, value uint64) { m.Seeds[name] = value }

// Input records an input file; hash is its hex SHA-256 (see table.HashFile).
func (m *Manifest) Input(path, tableID string, rows int64, hash string) {
	m.Inputs = append(m.Inputs, File{Path: path, Table: tableID, Rows: rows, SHA256: hash})
}

// WriteFor records output as an output of the run and writes the run's manifest next to it as
// output.json. It does nothing for "-" and for devices and pipes such as /dev/null: they have no
// place for a sidecar.
func (m *Manifest) WriteFor(output, tableID string, rows int64) error {
	if output == "-" || atomicfile.Special(output) {
		return nil
	}
	st, err := os.Stat(output)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	hash, err := table.HashFile(output)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	out := File{Path: output, Table: tableID, Rows: rows, Bytes: st.Size(), SHA256: hash}
	m.Outputs = append(m.Outputs, out)
	m.WallSeconds = time.Since(m.Started).Seconds()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return atomicfile.WriteFile(output+".json", append(data, '\n'))
}

// Read reads a manifest file.
func Read(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not a manifest: %w", path, err)
	}
	return &m, nil
}
