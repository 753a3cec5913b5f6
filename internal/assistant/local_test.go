package assistant

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/llm/llamacpp"
	"github.com/mbd-dev/mbd/internal/tinymodel"
)

// TestLocalGGUF runs the gguf: provider on tiny random-weight models that the repository's own
// tools make (one with the ChatML template, one without). One thread: ggml's worker threads spin,
// and two of them on a busy 2-core machine slow decoding down many times.
func TestLocalGGUF(t *testing.T) {
	dir := t.TempDir()
	cfg := tinymodel.DefaultConfig()
	plain := filepath.Join(dir, "plain.gguf")
	if _, err := tinymodel.TrainAndCreate(plain, "", cfg, 1); err != nil {
		t.Fatal(err)
	}
	cfg.Chat = true
	chat := filepath.Join(dir, "chat.gguf")
	if _, err := tinymodel.TrainAndCreate(chat, "", cfg, 1); err != nil {
		t.Fatal(err)
	}

	msgs := []Message{
		{Role: System, Content: "Be brief."},
		{Role: User, Content: "Name a colour."},
		{Role: Assistant, Content: "Blue."},
		{Role: User, Content: "Another?"},
	}
	const chatML = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n" +
		"<|im_start|>assistant\nBlue.<|im_end|>\n<|im_start|>user\nAnother?<|im_end|>\n<|im_start|>assistant\n"
	// The chat model's template (applied by llama.cpp) and the fallback for the plain model both
	// give ChatML.
	for _, path := range []string{chat, plain} {
		m, err := llamacpp.LoadVocab(path)
		if err != nil {
			t.Fatal(err)
		}
		var cm []llamacpp.ChatMessage
		for _, mm := range msgs {
			cm = append(cm, llamacpp.ChatMessage{Role: string(mm.Role), Content: mm.Content})
		}
		got, err := m.FormatChat(cm)
		m.Close()
		if err != nil || got != chatML {
			t.Errorf("%s: FormatChat = %q, %v; want %q", filepath.Base(path), got, err, chatML)
		}
	}

	for _, path := range []string{chat, plain} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			ref := "gguf:" + path
			c, _, _ := openT(t, ref+"?threads=1&ctx=256", Options{})
			if c.Ref() != ref {
				t.Errorf("ref %q, want %q (threads and ctx do not change answers)", c.Ref(), ref)
			}
			req := Request{Messages: msgs, MaxTokens: 6, JSON: true}
			r1, err := c.Chat(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r1.InputTokens < 20 || r1.OutputTokens < 1 || r1.OutputTokens > 6 || (r1.FinishReason != "stop" && r1.FinishReason != "length") {
				t.Errorf("answer %+v", r1)
			}
			if r, err := c.Chat(context.Background(), req); err != nil || !r.Cached || r.Text != r1.Text {
				t.Errorf("second call: %+v %v, want the cached answer", r, err)
			}
			if u := c.Usage(); u.Calls != 1 || u.Cost != 0 || u.InputTokens != int64(r1.InputTokens) {
				t.Errorf("usage %+v", u)
			}
			// Greedy at temperature 0, and seeded sampling above it, are reproducible.
			nc, _, _ := openT(t, ref+"?threads=1&ctx=256", Options{NoCache: true})
			if r2, err := nc.Chat(context.Background(), req); err != nil || r2.Text != r1.Text {
				t.Errorf("temperature 0 again: %q %v, want %q", r2.Text, err, r1.Text)
			}
			hot := Request{Messages: msgs, MaxTokens: 6, Temperature: 1, Seed: 42}
			a, err1 := nc.Chat(context.Background(), hot)
			b, err2 := nc.Chat(context.Background(), hot)
			if err1 != nil || err2 != nil || a.Text != b.Text {
				t.Errorf("same seed, different answers: %q %q %v %v", a.Text, b.Text, err1, err2)
			}
			// A prompt longer than the context is an error, not a crash.
			long := Request{Messages: []Message{{Role: User, Content: strings.Repeat("many words ", 300)}}, MaxTokens: 6}
			if _, err := nc.Chat(context.Background(), long); err == nil {
				t.Error("a prompt beyond the context was accepted")
			}
		})
	}
}
