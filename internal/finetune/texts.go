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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
// rows (table rows, or documents of a file) and the SHA-256 of its bytes.
type Source struct {
	Path   string
	Schema string
	Rows   int64
	SHA256 string
}

// BadInputError is input that cannot be trained on: a base model that cannot be read or
// trained, training settings the model does not allow, a checkpoint of another run. Tools treat it
// as bad input (exit status 2). Its message is one line: joined errors are separated by "; ".
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return strings.ReplaceAll(e.Err.Error(), "\n", "; ") }
func (e *BadInputError) Unwrap() error { return e.Err }

// ExitCode makes bad input end a tool with status 2.
func (e *BadInputError) ExitCode() int { return 2 }

func badInput(err error) error { return &BadInputError{Err: err} }

// ReadAll reads the training documents of every input, in order. No documents at all is bad input.
func ReadAll(paths []string, stdin io.Reader) ([]Document, []Source, error) {
	var docs []Document
	var srcs []Source
	for _, path := range paths {
		d, src, err := Read(path, stdin)
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
// truths, generations or prompts table (path "-" is standard input).
func Read(path string, stdin io.Reader) ([]Document, Source, error) {
	var docs []Document
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl":
		docs, err = ReadChatJSONL(path)
	case ".txt":
		docs, err = ReadText(path)
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
	return docs, Source{Path: path, Rows: int64(len(docs)), SHA256: hash}, nil
}

// ReadChatJSONL reads chat records {"system"?, "prompt", "completion"}, one JSON object per line.
func ReadChatJSONL(path string) ([]Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	defer f.Close()
	var docs []Document
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
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
			return nil, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "not a chat record {\"system\"?, \"prompt\", \"completion\"}", Err: err}
		}
		if rec.Prompt == nil || rec.Completion == nil {
			return nil, &table.InputError{Path: fmt.Sprintf("%s:%d", path, ln), Msg: "a chat record needs \"prompt\" and \"completion\""}
		}
		docs = append(docs, Document{System: rec.System, Prompt: *rec.Prompt, Text: *rec.Completion})
	}
	if err := sc.Err(); err != nil {
		return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	return docs, nil
}

// ReadText reads a text file of documents separated by blank lines.
func ReadText(path string) ([]Document, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &table.InputError{Path: path, Msg: "cannot read", Err: err}
	}
	var docs []Document
	for _, para := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
		if p := strings.TrimSpace(para); p != "" {
			docs = append(docs, Document{Text: p})
		}
	}
	return docs, nil
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
