package openaicompat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// FineTuneExample is one training pair: the user's prompt and the answer the tuned model should give.
type FineTuneExample struct {
	Prompt     string
	Completion string
}

// FineTuneOptions configure a hosted fine-tuning job.
type FineTuneOptions struct {
	Suffix       string        // added to the tuned model's name
	Seed         int64         // job seed (0: the provider's choice)
	Epochs       int           // 0: the provider's choice
	PollInterval time.Duration // default 15 s
}

// FineTune uploads examples as a fine-tuning file (chat format: {"messages": [system?, user,
// assistant]} when the client is in chat mode, else {"prompt", "completion"}), starts a fine-tuning
// job on the client's model, and polls it until it ends. It returns the tuned model's name. status is
// called with each new job status. On cancellation the job keeps running at the provider; the error
// names it.
func (c *Client) FineTune(ctx context.Context, examples []FineTuneExample, o FineTuneOptions, status func(string)) (string, error) {
	if len(examples) == 0 {
		return "", fmt.Errorf("fine-tune %s: no training examples", c.cfg.Model)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 15 * time.Second
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	for _, ex := range examples {
		var line any
		if c.cfg.Chat {
			var msgs []map[string]string
			if c.cfg.SystemPrompt != "" {
				msgs = append(msgs, map[string]string{"role": "system", "content": c.cfg.SystemPrompt})
			}
			msgs = append(msgs, map[string]string{"role": "user", "content": ex.Prompt}, map[string]string{"role": "assistant", "content": ex.Completion})
			line = map[string]any{"messages": msgs}
		} else {
			line = map[string]string{"prompt": ex.Prompt, "completion": ex.Completion}
		}
		if err := enc.Encode(line); err != nil {
			return "", err
		}
	}
	files := openai.NewFileService(c.opts...)
	var f *openai.FileObject
	err := c.call(ctx, "/files", func(ctx context.Context, opts ...option.RequestOption) (err error) {
		body := bytes.NewReader(data.Bytes()) // a fresh reader per attempt
		f, err = files.New(ctx, openai.FileNewParams{File: openai.File(body, "mbd-finetune.jsonl", "application/jsonl"), Purpose: openai.FilePurposeFineTune}, opts...)
		return err
	})
	if err != nil {
		return "", err
	}
	params := openai.FineTuningJobNewParams{Model: openai.FineTuningJobNewParamsModel(c.cfg.Model), TrainingFile: f.ID}
	if o.Suffix != "" {
		params.Suffix = openai.String(o.Suffix)
	}
	if o.Seed != 0 {
		params.Seed = openai.Int(o.Seed)
	}
	if o.Epochs > 0 {
		params.Hyperparameters.NEpochs.OfInt = openai.Int(int64(o.Epochs))
	}
	jobs := openai.NewFineTuningJobService(c.opts...)
	job, err := request(ctx, c, "/fine_tuning/jobs", jobs.New, params)
	if err != nil {
		return "", err
	}
	last := ""
	for {
		if s := string(job.Status); s != last {
			last = s
			if status != nil {
				status(fmt.Sprintf("job %s: %s", job.ID, s))
			}
		}
		switch job.Status {
		case openai.FineTuningJobStatusSucceeded:
			if job.FineTunedModel == "" {
				return "", fmt.Errorf("fine-tuning job %s succeeded without naming the tuned model", job.ID)
			}
			return job.FineTunedModel, nil
		case openai.FineTuningJobStatusFailed, openai.FineTuningJobStatusCancelled:
			msg := string(job.Status)
			if job.Error.Message != "" {
				msg += ": " + job.Error.Message
			}
			return "", fmt.Errorf("fine-tuning job %s %s", job.ID, msg)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("stopped waiting for fine-tuning job %s (it keeps running at the provider): %w", job.ID, ctx.Err())
		case <-time.After(o.PollInterval):
		}
		if job, err = request(ctx, c, "/fine_tuning/jobs/"+job.ID, jobs.Get, job.ID); err != nil {
			return "", err
		}
	}
}
