// Package table reads and writes the tables of package schema as Parquet files and Arrow IPC
// streams. Path "-" is standard input or output; a writer writes an Arrow stream there, so that
// tools can be piped together.
//
// Reading (Open, ReadAll, OpenAny for a kind known only at run time) detects the format by the
// first bytes, checks the table's mbd.schema metadata (name and version) when it is there, and
// checks every column the row type needs: present, of a compatible type, and without nulls where
// the column is required (files written by DuckDB or pandas, which store everything as nullable and
// carry no metadata, are read when their columns fit). Every problem is an *InputError that names
// the file and, where it applies, the column; tools exit with status 2 on it. A reader also hashes
// the bytes it reads (Hash), for the manifest.
//
// Allocation is bounded whatever the input: Parquet page headers and Arrow schema messages are
// checked before parquet-go and arrow-go see them (their decoders trust sizes that a corrupt file
// controls), Arrow messages are at most MaxArrowMessage bytes, and writers cut row groups and
// record batches at MaxRowGroupRows/MaxRowGroupBytes and ArrowBatchRows/ArrowBatchBytes.
//
// Writing (Create, CreateAny) goes through package atomicfile: a Parquet file appears under its
// name complete or not at all (Commit; Abort discards it), while a device, FIFO or /dev/stdout is
// written straight through.
package table
