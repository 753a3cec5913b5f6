package finetune

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/mbd-dev/mbd/internal/gguf"
	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/train"
)

// LocalOptions configure Local.
type LocalOptions struct {
	Base    string // base model, a GGUF with F32, F16 or BF16 weights
	Output  string // trained model, GGUF
	Adapter string // also write the LoRA adapters here (needs Config.LoRARank)
	F32     bool   // write every weight as F32 (default: the base's types)
	Config  train.Config
}

// Point is one step of the loss curve.
type Point struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// Result is what a local training run did.
type Result struct {
	Documents       int
	Tokens          int
	TrainableParams int
	ResumedAt       int // the step resumed from a checkpoint (0: none)
	Curve           []Point
	TokensPerSecond float64
}

// Local tokenizes docs with the base model's own tokenizer and prompt format, trains the base on
// them in-process (resuming from Config.CheckpointPath when that file exists) and writes the
// trained model to o.Output (and the adapters to o.Adapter). step, when not nil, is called after
// every optimizer step with the step number, its loss and the throughput. A base that cannot be
// read or trained, settings it does not allow and a checkpoint of another run are InputErrors.
func Local(ctx context.Context, docs []Document, o LocalOptions, log *slog.Logger, step func(step int, loss, tokPerSec float64)) (Result, error) {
	res := Result{Documents: len(docs)}
	// The Go reader checks the whole header before llama.cpp sees the file.
	g, err := gguf.Open(o.Base)
	if errors.Is(err, os.ErrNotExist) {
		return res, badInput(o.Base, errors.New("no such file"))
	} else if err != nil {
		return res, badInput(o.Base, err)
	}
	g.Close()
	tokens, n, err := Tokenize(o.Base, docs)
	if err != nil {
		return res, err
	}
	res.Tokens = n
	m, err := train.Open(o.Base)
	if err != nil {
		return res, badInput(o.Base, err)
	}
	cfg := o.Config
	if res.TrainableParams, err = m.TrainableParams(cfg); err != nil {
		return res, badInput(o.Base, err)
	}
	if ck := cfg.CheckpointPath; ck != "" {
		if _, err := os.Stat(ck); err == nil {
			if err := m.LoadCheckpoint(ck); err != nil {
				return res, badInput(ck, fmt.Errorf("checkpoint: %w", err))
			}
			res.ResumedAt = m.Step()
			log.Info("resuming from checkpoint", "checkpoint", ck, "step", res.ResumedAt)
		}
	}
	log.Info("training", "base", o.Base, "documents", len(tokens), "tokens", n, "steps", cfg.Steps, "parameters", res.TrainableParams)
	err = m.Train(ctx, tokens, cfg, func(s int, loss, tokPerSec float64) {
		res.Curve = append(res.Curve, Point{s, loss})
		res.TokensPerSecond = tokPerSec
		if step != nil {
			step(s, loss, tokPerSec)
		}
		if s%10 == 0 || s == cfg.Steps {
			log.Debug("step", "step", s, "loss", fmt.Sprintf("%.4f", loss), "tokens/s", fmt.Sprintf("%.0f", tokPerSec))
		}
	})
	if err != nil {
		return res, err
	}
	if err := m.Export(o.Output, train.ExportOptions{F32: o.F32}); err != nil {
		return res, err
	}
	if o.Adapter != "" {
		if err := m.ExportLoRA(o.Adapter); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Tokenize turns docs into token sequences with the model's own tokenizer and prompt format, as
// generation uses them: a document with a prompt is the formatted prompt (through the chat
// template with the system prompt, when it has one) followed by the text; each ends with EOS. It
// returns the sequences and their total length.
func Tokenize(model string, docs []Document) ([][]int32, int, error) {
	vocab, err := llamacpp.Load(llamacpp.Options{Path: model, Threads: 1})
	if err != nil {
		return nil, 0, badInput(model, err)
	}
	defer vocab.Close()
	eos := vocab.EOS()
	chat := vocab.Info().ChatTemplate != ""
	var tokens [][]int32
	var n int
	for _, d := range docs {
		var t []int32
		if d.Prompt != "" {
			p, err := vocab.FormatPrompt(d.Prompt)
			if d.System != "" {
				p, err = vocab.FormatChat([]llamacpp.ChatMessage{{Role: "system", Content: d.System}, {Role: "user", Content: d.Prompt}})
			}
			if err != nil {
				return nil, 0, err
			}
			pt, _ := vocab.Tokenize(p, true, chat)
			ct, _ := vocab.Tokenize(d.Text, false, false)
			t = append(pt, ct...)
		} else {
			t, _ = vocab.Tokenize(d.Text, true, false)
		}
		t = append(t, eos)
		tokens = append(tokens, t)
		n += len(t)
	}
	return tokens, n, nil
}
