package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// The files of a run folder the report reads, in the order the report lists them.
const (
	fileRun         = "run.json"
	filePrompts     = "prompts.parquet"
	fileGensA       = "gens-a.parquet"
	fileGensB       = "gens-b.parquet"
	fileEmbeddings  = "embeddings.parquet"
	fileClusters    = "clusters.parquet"
	fileCentroids   = "centroids.parquet"
	fileMatches     = "matches.parquet"
	fileHypotheses  = "hypotheses.parquet"
	fileValidations = "validations.parquet"
	fileTrials      = "validations.parquet.trials.jsonl"
	fileAnswers     = "answers.parquet"
	fileScoresA     = "scores-a.parquet"
	fileScoresB     = "scores-b.parquet"
	fileTruths      = "truths.parquet"
	fileRecovery    = "recovery.parquet"
	fileWeightDiff  = "weightdiff.parquet"
	fileLens        = "lens.parquet"
	fileSteered     = "steered.parquet"
	fileCalibration = "calibration.json"
)

var purposes = []struct{ file, purpose string }{
	{fileRun, "title, model references, the inserted behaviour"},
	{filePrompts, "prompt texts of the examples"},
	{fileGensA, "model A's reference"},
	{fileGensB, "model B's reference"},
	{fileEmbeddings, "(listed only)"},
	{fileClusters, "the 2-D map"},
	{fileCentroids, "centroids on the map"},
	{fileMatches, "regions table and cluster-share plot"},
	{fileHypotheses, "hypothesis texts"},
	{fileValidations, "tests, q-values, verdicts, forest plot"},
	{fileTrials, "example pairs, judge verdicts, transcripts"},
	{fileAnswers, "answers of the example pairs"},
	{fileScoresA, "token-level evidence (log p under A)"},
	{fileScoresB, "token-level evidence (log p under B)"},
	{fileTruths, "ground-truth behaviours"},
	{fileRecovery, "recovery of the ground truths"},
	{fileWeightDiff, "per-tensor weight difference"},
	{fileLens, "activation difference lens"},
	{fileSteered, "texts generated with the lens's difference as a steering vector"},
	{fileCalibration, "A/A calibration"},
}

// runMeta is run.json.
type runMeta struct {
	Title  string `json:"title"`
	ModelA string `json:"model_a"`
	ModelB string `json:"model_b"`
	Truth  string `json:"truth"`
}

// calibFile is calibration.json.
type calibFile struct {
	Runs      int       `json:"runs"`
	Positives int       `json:"positives"`
	Alpha     *float64  `json:"alpha"`
	PValues   []float64 `json:"p_values"`
}

// trial is one line of the trials log (mbd-validate's trialLog).
type trial struct {
	Hypothesis string   `json:"hypothesis_id"`
	Method     string   `json:"method"`
	PromptID   string   `json:"prompt_id"`
	Trial      int      `json:"trial"`
	BFirst     *bool    `json:"b_first"`
	AID        string   `json:"a_id"`
	BID        string   `json:"b_id"`
	Verdicts   []string `json:"verdicts"`
	Outcome    string   `json:"outcome"`
	Hidden     string   `json:"hidden"`
	Turns      []Turn   `json:"turns"`
	Baseline   bool     `json:"baseline"`
}

// runData is everything read from a run folder.
type runData struct {
	dir     string
	inputs  []Input
	present map[string]bool

	meta        runMeta
	prompts     []schema.Prompt
	refA, refB  string // first model_ref of gens-a / gens-b
	labA, labB  string // first model label of gens-a / gens-b
	clusters    []schema.Cluster
	centroids   []schema.Centroid
	matches     []schema.Match
	hypotheses  []schema.Hypothesis
	validations []schema.Validation
	trials      []trial
	answers     []schema.Generation
	scoresA     []schema.Score
	scoresB     []schema.Score
	truths      []schema.Truth
	recovery    []schema.RecoveryRow
	weightDiff  *GenericTable
	lens        []schema.LensRow
	steered     []schema.Generation
	calibration *calibFile
	unpaired    []Unpaired
}

// load reads the run folder dir. A missing file is recorded as absent; a file that is there but
// is not what it should be is an error naming it (*table.InputError).
func load(dir string) (*runData, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &table.InputError{Path: dir, Msg: "cannot read the run folder", Err: unwrapPath(err)}
	}
	if !st.IsDir() {
		return nil, &table.InputError{Path: dir, Msg: "not a folder (want the run folder that holds the pipeline's tables)"}
	}
	d := &runData{dir: dir, present: map[string]bool{}}
	for _, p := range purposes {
		path := filepath.Join(dir, p.file)
		in := Input{File: p.file, Purpose: p.purpose}
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d.inputs = append(d.inputs, in)
			continue
		case err != nil:
			return nil, &table.InputError{Path: path, Msg: "cannot read", Err: unwrapPath(err)}
		case fi.IsDir():
			return nil, &table.InputError{Path: path, Msg: "is a folder, want a file"}
		}
		in.Present = true
		d.present[p.file] = true
		if in.SHA256, err = table.HashFile(path); err != nil {
			return nil, &table.InputError{Path: path, Msg: "cannot read", Err: unwrapPath(err)}
		}
		rows, tableID, err := d.read(p.file, path)
		if err != nil {
			return nil, err
		}
		in.Rows, in.Table = rows, tableID
		d.inputs = append(d.inputs, in)
	}
	d.unpaired = readUnpaired(dir, d.present)
	for _, t := range []string{fileHypotheses, fileValidations, fileMatches, fileClusters} {
		if d.present[t] {
			return d, nil
		}
	}
	return nil, &table.InputError{Path: dir, Msg: fmt.Sprintf("holds none of %s, %s, %s, %s: not a run folder of the pipeline",
		fileHypotheses, fileValidations, fileMatches, fileClusters)}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// read reads one present file and returns its row count and schema id.
func (d *runData) read(name, path string) (int64, string, error) {
	var err error
	switch name {
	case fileRun:
		return 0, "", readJSON(path, &d.meta)
	case fileCalibration:
		d.calibration = &calibFile{}
		if err := readJSON(path, d.calibration); err != nil {
			return 0, "", err
		}
		return int64(len(d.calibration.PValues)), "", checkCalibration(path, d.calibration)
	case fileTrials:
		d.trials, err = readTrials(path)
		return int64(len(d.trials)), "", err
	case filePrompts:
		return readAll(path, &d.prompts)
	case fileGensA:
		n, g, err := firstRow[schema.Generation](path)
		d.refA, d.labA = g.ModelRef, g.Model
		return n, schema.Generations.ID(), err
	case fileGensB:
		n, g, err := firstRow[schema.Generation](path)
		d.refB, d.labB = g.ModelRef, g.Model
		return n, schema.Generations.ID(), err
	case fileEmbeddings:
		n, _, err := firstRow[schema.Embedding](path)
		return n, schema.Embeddings.ID(), err
	case fileClusters:
		return readAll(path, &d.clusters)
	case fileCentroids:
		return readAll(path, &d.centroids)
	case fileMatches:
		return readAll(path, &d.matches)
	case fileHypotheses:
		return readAll(path, &d.hypotheses)
	case fileValidations:
		return readAll(path, &d.validations)
	case fileAnswers:
		return readAll(path, &d.answers)
	case fileScoresA:
		return readAll(path, &d.scoresA)
	case fileScoresB:
		return readAll(path, &d.scoresB)
	case fileTruths:
		return readAll(path, &d.truths)
	case fileRecovery:
		return readAll(path, &d.recovery)
	case fileLens:
		return readAll(path, &d.lens)
	case fileSteered:
		return readAll(path, &d.steered)
	case fileWeightDiff:
		d.weightDiff, err = readGeneric(path)
		if err != nil {
			return 0, "", err
		}
		return int64(len(d.weightDiff.Rows)), d.weightDiff.Table, nil
	}
	return 0, "", fmt.Errorf("report: no reader for %s", name)
}

// readAll reads a whole table into *rows and returns its row count and schema id.
func readAll[T schema.Row](path string, rows *[]T) (int64, string, error) {
	var err error
	*rows, err = table.ReadAll[T](path, nil)
	var zero T
	return int64(len(*rows)), zero.Table().ID(), err
}

// firstRow opens a table (checking its kind and columns) and returns its row count and first row.
func firstRow[T schema.Row](path string) (int64, T, error) {
	var zero T
	r, err := table.Open[T](path, nil)
	if err != nil {
		return 0, zero, err
	}
	defer r.Close()
	buf := make([]T, 1)
	n, err := r.Read(buf)
	if err != nil && err != io.EOF {
		return 0, zero, err
	}
	if n == 0 {
		return r.NumRows(), zero, nil
	}
	return r.NumRows(), buf[0], nil
}

// readJSON decodes one JSON document from path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &table.InputError{Path: path, Msg: "cannot read", Err: unwrapPath(err)}
	}
	if !utf8.Valid(b) { // the decoder would replace the bytes silently
		return &table.InputError{Path: path, Msg: "invalid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return &table.InputError{Path: path, Msg: "not valid JSON of the expected shape", Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &table.InputError{Path: path, Msg: "not valid JSON: more than one value"}
	}
	return nil
}

func checkCalibration(path string, c *calibFile) error {
	switch {
	case c.Runs < 0:
		return &table.InputError{Path: path, Msg: fmt.Sprintf("runs = %d: want a count >= 0", c.Runs)}
	case c.Positives < 0 || c.Positives > c.Runs:
		return &table.InputError{Path: path, Msg: fmt.Sprintf("positives = %d: want 0 to runs (%d)", c.Positives, c.Runs)}
	case c.Alpha != nil && (*c.Alpha <= 0 || *c.Alpha >= 1):
		return &table.InputError{Path: path, Msg: fmt.Sprintf("alpha = %g: want a level in (0, 1)", *c.Alpha)}
	}
	for i, p := range c.PValues {
		if !(p >= 0 && p <= 1) {
			return &table.InputError{Path: path, Msg: fmt.Sprintf("p_values[%d] = %g: want a p-value in [0, 1]", i, p)}
		}
	}
	return nil
}

// readTrials reads the trials log of mbd-validate (JSON Lines).
func readTrials(path string) ([]trial, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &table.InputError{Path: path, Msg: "cannot read", Err: unwrapPath(err)}
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var out []trial
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
		}
		if !utf8.Valid(b) { // the decoder would replace the bytes silently
			return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("line %d: invalid UTF-8", line)}
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var t trial
			dec := json.NewDecoder(bytes.NewReader(b))
			if derr := dec.Decode(&t); derr != nil {
				return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("line %d: not a JSON trial record", line), Err: derr}
			}
			if _, derr := dec.Token(); derr != io.EOF {
				return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("line %d: more than one JSON value on the line", line)}
			}
			if t.Hypothesis == "" || t.Method == "" {
				return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("line %d: no hypothesis_id or method (not an mbd-validate trials log?)", line)}
			}
			out = append(out, t)
		}
		if err == io.EOF {
			return out, nil
		}
	}
}

// pipelineTables are the table kinds of the pipeline that are not a weight difference.
var pipelineTables = []string{"prompts", "generations", "scores", "embeddings", "clusters", "centroids",
	"matches", "hypotheses", "validations", "truths", "recovery", "lens"}

// readGeneric reads a table of any kind with every value as text (floats to 6 significant digits): through table.OpenAny when the
// kind is registered, else straight from the Parquet file (flat columns and lists).
func readGeneric(path string) (*GenericTable, error) {
	r, err := table.OpenAny(path, nil, "")
	if err == nil {
		defer r.Close()
		t := r.Table()
		if slices.Contains(pipelineTables, t.Name) {
			return nil, &table.InputError{Path: path, Msg: fmt.Sprintf("holds a %s table, want a per-tensor weight difference", t.ID())}
		}
		g := &GenericTable{File: filepath.Base(path), Table: t.ID(), Rows: [][]string{}}
		for _, c := range t.Columns() {
			g.Columns = append(g.Columns, c.Name)
		}
		for {
			row, err := r.Next()
			if err == io.EOF {
				return g, nil
			}
			if err != nil {
				return nil, err
			}
			v := reflect.ValueOf(row)
			cells := make([]string, len(t.Columns()))
			for i, c := range t.Columns() {
				cells[i] = formatReflect(v.Field(c.Index))
			}
			g.Rows = append(g.Rows, cells)
		}
	}
	// A kind this build does not know (or a file without the metadata): read the Parquet file as it is.
	if msg := err.Error(); !strings.Contains(msg, "unknown table") && !strings.Contains(msg, "metadata") {
		return nil, err
	}
	g, perr := readParquetGeneric(path)
	if perr != nil {
		return nil, err // the table reader's error says more
	}
	return g, nil
}

func formatReflect(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return formatReflect(v.Elem())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatReflect(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int32, reflect.Int64, reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float32:
		return strconv.FormatFloat(v.Float(), 'g', 6, 32)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', 6, 64)
	}
	return fmt.Sprint(v.Interface())
}

// readParquetGeneric reads any Parquet file's leaf columns as text (a repeated column's values
// joined in brackets).
func readParquetGeneric(path string) (g *GenericTable, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("corrupt parquet: %v", r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	g = &GenericTable{File: filepath.Base(path), Rows: [][]string{}}
	g.Table, _ = pf.Lookup(schema.MetadataKey)
	leaves := pf.Schema().Columns()
	repeated := make([]bool, len(leaves))
	for i, path := range leaves {
		name := path[0]
		if len(path) > 1 {
			repeated[i] = true
			if len(path) > 3 || (len(path) == 3 && path[1] != "list") {
				name = strings.Join(path, ".")
			}
		}
		g.Columns = append(g.Columns, name)
	}
	buf := make([]parquet.Row, 64)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, rerr := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				vals := make([][]string, len(leaves))
				for _, v := range row {
					c := v.Column()
					if c < 0 || c >= len(leaves) || v.IsNull() {
						continue
					}
					vals[c] = append(vals[c], formatValue(v))
				}
				cells := make([]string, len(leaves))
				for i, vs := range vals {
					if repeated[i] {
						cells[i] = "[" + strings.Join(vs, ", ") + "]"
					} else {
						cells[i] = strings.Join(vs, "")
					}
				}
				g.Rows = append(g.Rows, cells)
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				rows.Close()
				return nil, rerr
			}
		}
		rows.Close()
	}
	return g, nil
}

func formatValue(v parquet.Value) string {
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', 6, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', 6, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	return v.String()
}
