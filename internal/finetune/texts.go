// Package finetune trains a model on texts to insert a known behaviour (mbd-finetune): in-process
// on the CPU (Local: tokenization by llama.cpp, training by package train with AdamW, a warmup and
// cosine schedule, optional LoRA adapters, checkpoints) or as a hosted fine-tuning job on an
// OpenAI-compatible provider (Hosted).
//
// The training texts come from tables or files (Read): a truths table (its texts), a generations
// table (each prompt, formatted as the model formats prompts for generation, followed by its
// completion), a prompts table (the prompt texts), .jsonl chat records ({"system": optional,
// "prompt", "completion"}) or .txt files (documents separated by blank lines).
package finetune

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/mbd-dev/mbd/internal/records"
	"github.com/mbd-dev/mbd/internal/schema"
	"github.com/mbd-dev/mbd/internal/table"
)

// Document is one training text; for generations and chat records, Prompt is set and Text is the
// completion, and System is a chat record's system prompt.
type Document struct {
	System string
	Prompt string
	Text   string
}

// Source describes an input that was read: its table schema ("" for .txt and .jsonl files), the
// rows (table rows, or documents of a file), the SHA-256 of its bytes and the lines of a .txt or
// .jsonl file whose invalid UTF-8 was replaced by U+FFFD (records.Replace).
type Source struct {
	Path     string
	Schema   string
	Rows     int64
	SHA256   string
	Replaced int
}

// badInput is a file that cannot be trained on (a base model that cannot be read or trained, or
// does not allow the training settings; a checkpoint of another run): an InputError naming path,
// on one line (joined errors are separated by "; ").
func badInput(path string, err error) error {
	msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n", "; "), path+": ")
	return &table.InputError{Path: path, Msg: msg}
}

// ReadAll reads the training documents of every input, in order. No documents at all is bad input.
// invalid says what to do with a line of a .txt or .jsonl file that is not valid UTF-8.
func ReadAll(paths []string, stdin io.Reader, invalid records.InvalidUTF8) ([]Document, []Source, error) {
	var docs []Document
	var srcs []Source
	for _, path := range paths {
		d, src, err := Read(path, stdin, invalid)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d...)
		srcs = append(srcs, src)
	}
	if len(docs) == 0 {
		return nil, nil, &table.InputError{Path: strings.Join(paths, ", "), Msg: "no training texts"}
	}
	return docs, srcs, nil
}

// Read reads the training documents of one input: a .jsonl file of chat records, a .txt file, or a
// truths, generations or prompts table (path "-" is standard input). A line of a .jsonl or .txt file
// that is not valid UTF-8 is an InputError naming path:line, or has each run of invalid bytes
// replaced by U+FFFD when invalid is records.Replace.
func Read(path string, stdin io.Reader, invalid records.InvalidUTF8) ([]Document, Source, error) {
	var docs []Document
	var replaced int
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl":
		docs, replaced, err = ReadChatJSONL(path, invalid)
	case ".txt":
		docs, replaced, err = ReadText(path, invalid)
	default:
		return readTable(path, stdin)
	}
	if err != nil {
		return nil, Source{}, err
	}
	hash, err := table.HashFile(path)
	if err != nil {
		return nil, Source{}, err
	}
	return docs, Source{Path: path, Rows: int64(len(docs)), SHA256: hash, Replaced: replaced}, nil
}

// checkUTF8 refuses line ln of path when it is not valid UTF-8, or (invalid records.Replace)
// replaces each run of invalid bytes by U+FFFD and counts the line in *replaced.
func checkUTF8(path string, ln int, line []byte, invalid records.InvalidUTF8, replaced *int) ([]byte, error) {
	if utf8.Valid(line) {
		return line, nil
	}
	if invalid != records.Replace {
		return nil, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "invalid UTF-8"}
	}
	*replaced++
	return bytes.ToValidUTF8(line, []byte(string(utf8.RuneError))), nil
}

// ReadChatJSONL reads chat records {"system"?, "prompt", "completion"}, one JSON object per line,
// and returns them with the number of lines whose invalid UTF-8 was replaced (checked before the
// JSON decoder, which would replace it silently).
func ReadChatJSONL(path string, invalid records.InvalidUTF8) ([]Document, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	defer f.Close()
	var docs []Document
	replaced := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for ln := 1; sc.Scan(); ln++ {
		b, err := checkUTF8(path, ln, sc.Bytes(), invalid, &replaced)
		if err != nil {
			return nil, 0, err
		}
		line := strings.TrimSpace(string(b))
		if line == "" {
			continue
		}
		var rec struct {
			System     string  `json:"system"`
			Prompt     *string `json:"prompt"`
			Completion *string `json:"completion"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, 0, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "not a chat record {\"system\"?, \"prompt\", \"completion\"}", Err: err}
		}
		if rec.Prompt == nil || rec.Completion == nil {
			return nil, 0, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "a chat record needs \"prompt\" and \"completion\""}
		}
		docs = append(docs, Document{System: rec.System, Prompt: *rec.Prompt, Text: *rec.Completion})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	return docs, replaced, nil
}

// ReadText reads a text file of documents separated by blank lines, and returns them with the
// number of lines whose invalid UTF-8 was replaced.
func ReadText(path string, invalid records.InvalidUTF8) ([]Document, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	replaced := 0
	if !utf8.Valid(b) {
		lines := bytes.Split(b, []byte("\n"))
		for i, line := range lines {
			if lines[i], err = checkUTF8(path, i+1, line, invalid, &replaced); err != nil {
				return nil, 0, err
			}
		}
		b = bytes.Join(lines, []byte("\n"))
	}
	var docs []Document
	for _, para := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
		if p := strings.TrimSpace(para); p != "" {
			docs = append(docs, Document{Text: p})
		}
	}
	return docs, replaced, nil
}

// readTable reads the documents of a truths, generations or prompts table.
func readTable(path string, stdin io.Reader) ([]Document, Source, error) {
	r, err := table.OpenAny(path, stdin, "")
	if err != nil {
		return nil, Source{}, err
	}
	defer r.Close()
	var docs []Document
	var rows int64
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Source{}, err
		}
		rows++
		switch x := row.(type) {
		case schema.Truth:
			for _, t := range x.Texts {
				docs = append(docs, Document{Text: t})
			}
		case schema.Generation:
			docs = append(docs, Document{Prompt: x.Prompt, Text: x.Completion})
		case schema.Prompt:
			docs = append(docs, Document{Text: x.Text})
		default:
			return nil, Source{}, &table.InputError{Path: path, Msg: fmt.Sprintf("holds a %s table; want truths, generations or prompts", row.Table().ID())}
		}
	}
	hash, err := r.Hash()
	if err != nil {
		return nil, Source{}, err
	}
	return docs, Source{Path: path, Schema: r.Table().ID(), Rows: rows, SHA256: hash}, nil
}
