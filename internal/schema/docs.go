package schema

import (
	"fmt"
	"strings"
)

// Markdown renders the table's documentation as schemas/NAME.md holds it.
func (t *Table) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", t.ID())
	fmt.Fprintf(&b, "%s\n\n", t.Doc)
	fmt.Fprintf(&b, "Key/value metadata: `%s = %s`.\n\n", MetadataKey, t.ID())
	b.WriteString("| column | type | meaning |\n|---|---|---|\n")
	for _, c := range t.columns {
		doc := c.Doc
		if c.MayBeAbsent {
			doc += " May be absent (files written before the column was added): read as null."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Name, c.Type, strings.ReplaceAll(doc, "|", `\|`))
	}
	b.WriteString("\n_Generated from internal/schema by `go test ./internal/schema -update`; do not edit._\n")
	return b.String()
}

// IndexMarkdown renders schemas/README.md: the list of tables and the rules every file follows.
func IndexMarkdown() string {
	var b strings.Builder
	b.WriteString(`# mbd tables

Every mbd tool reads and writes these tables. On disk they are Parquet files (zstd, 3-level LISTs,
row groups of at most 65,536 rows) whose key/value metadata names the table as ` + "`mbd.schema = NAME/vN`" + `;
on a pipe (` + "`-`" + ` as input or output) they are Arrow IPC streams carrying the same columns and the same
metadata key. Readers detect which by the first bytes.

Rules readers apply:
- A file that names another table, or a newer major version than the reader knows, is refused.
- A file without ` + "`mbd.schema`" + ` metadata (written by DuckDB, pandas, ...) is accepted when its columns fit.
- Every column listed below must be present with the listed type, except one that says it may be
  absent (a column added to a table after files of its version were written: read as null); extra
  columns are ignored.
- A required column may be stored as nullable, but a null in it is an error.
- Each written file has a sidecar manifest ` + "`FILE.json`" + ` (tool, version, parameters, seeds, input hashes,
  row counts, wall time).

| table | one row is |
|---|---|
`)
	for _, t := range All {
		doc, _, _ := strings.Cut(t.Doc, ". ")
		fmt.Fprintf(&b, "| [%s](%s.md) | %s |\n", t.ID(), t.Name, strings.TrimSuffix(doc, "."))
	}
	b.WriteString("\n_Generated from internal/schema by `go test ./internal/schema -update`; do not edit._\n")
	return b.String()
}
