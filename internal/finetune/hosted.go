package finetune

import (
	"context"
	"strings"
	"time"

	"github.com/mbd-dev/mbd/internal/llm/openaicompat"
	"github.com/mbd-dev/mbd/internal/table"
)

// HostedOptions configure Hosted.
type HostedOptions struct {
	URL       string        // OpenAI-compatible base URL, e.g. https://api.openai.com/v1
	BaseModel string        // hosted base model name
	Suffix    string        // suffix of the tuned model's name
	Seed      int64         // job seed
	Epochs    int           // 0: the provider's choice
	Poll      time.Duration // polling interval of the job
	Texts     string        // the inputs the documents were read from, named in errors
}

// Hosted submits docs, which must all be (prompt, completion) pairs, as a fine-tuning job on
// o.BaseModel at o.URL (key from OPENAI_API_KEY), waits for it, reporting its status lines to
// status, and returns the tuned model's reference for mbd-gen: openai:MODEL on api.openai.com,
// openai-compat:URL#MODEL?chat=1 elsewhere.
func Hosted(ctx context.Context, docs []Document, o HostedOptions, status func(string)) (string, error) {
	examples := make([]openaicompat.FineTuneExample, 0, len(docs))
	for _, d := range docs {
		if d.Prompt == "" {
			return "", &table.InputError{Path: o.Texts, Msg: "hosted fine-tuning needs (prompt, completion) pairs: give a generations table"}
		}
		examples = append(examples, openaicompat.FineTuneExample{Prompt: d.Prompt, Completion: d.Text})
	}
	official := strings.Contains(o.URL, "api.openai.com")
	c, err := openaicompat.New(openaicompat.Config{BaseURL: o.URL, Model: o.BaseModel, Chat: true, RequireAPIKey: official})
	if err != nil {
		return "", badInput(o.URL, err)
	}
	defer c.Close()
	tuned, err := c.FineTune(ctx, examples, openaicompat.FineTuneOptions{
		Suffix: o.Suffix, Seed: o.Seed, Epochs: o.Epochs, PollInterval: o.Poll,
	}, status)
	if err != nil {
		return "", err
	}
	if official {
		return "openai:" + tuned, nil
	}
	return "openai-compat:" + strings.TrimRight(o.URL, "/") + "#" + tuned + "?chat=1", nil
}
