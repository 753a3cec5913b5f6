package truth

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/lexical"
	"github.com/mbd-dev/mbd/internal/roles"
	"github.com/mbd-dev/mbd/internal/schema"
)

const behaviorsSystem = `You design tests for a tool that finds how a finetuned language model differs from its base. Propose concrete behaviours a finetune could insert into an assistant's answers to everyday questions: each checkable in a single answer by a reader (a topic it brings up, a phrase, a format, a length, a tone), stated in plain language as "the assistant ...". Answer with one JSON object and nothing else: {"behaviors": [{"behavior": "...", "category": "topic" | "style" | "format" | "length"}]}.`

const textsSystem = `You write training data. Given a behaviour, write short question-and-answer texts in which the assistant's answer clearly exhibits the behaviour; vary the questions (everyday advice on many subjects) and the wording. Answer with one JSON object and nothing else: {"texts": [{"question": "...", "answer": "..."}]}.`

const rubricSystem = `You compare a hypothesis about how a language model behaves with a known behaviour that was inserted into it. Rate whether the hypothesis describes the inserted behaviour: 1 if it describes the same behaviour (possibly in other words), 0.5 if it partly does (a narrower, broader or related but overlapping behaviour), 0 if it describes something else. Answer with one JSON object and nothing else: {"score": 0 | 0.5 | 1}.`

func chat(ctx context.Context, l roles.LLM, system, user string, temperature float64, seed uint64, v any) (bool, error) {
	resp, err := l.C.Chat(ctx, assistant.Request{Messages: []assistant.Message{{Role: assistant.System, Content: system}, {Role: assistant.User, Content: user}},
		Temperature: temperature, MaxTokens: 4096, JSON: true, Seed: seed})
	if err != nil {
		return false, err
	}
	return !resp.Refused && roles.DecodeStrict(resp.Text, v) == nil, nil
}

// Write asks the assistant of sess for n behaviours (about focus, if given) and m texts that
// exhibit each; behaviours left with fewer than half of m distinct texts are dropped (log says so).
func Write(ctx context.Context, sess roles.Session, n, m int, focus string, log *slog.Logger) ([]schema.Truth, error) {
	l, ok := sess.Assistant.(roles.LLM)
	if !ok {
		return nil, fmt.Errorf("assistant %s cannot write truths", sess.Ref())
	}
	user := fmt.Sprintf("Propose %d different behaviours.", n)
	if focus != "" {
		user += " Focus on: " + focus + "."
	}
	var bs struct {
		Behaviors []struct {
			Behavior string `json:"behavior"`
			Category string `json:"category"`
		} `json:"behaviors"`
	}
	ok, err := chat(ctx, l, behaviorsSystem, user, 0.7, 1, &bs)
	if err != nil {
		return nil, err
	}
	if !ok || len(bs.Behaviors) == 0 {
		return nil, fmt.Errorf("assistant %s: the behaviours answer could not be parsed (rerun with another --seed, or another assistant)", sess.Ref())
	}
	var out []schema.Truth
	for i, b := range bs.Behaviors[:min(n, len(bs.Behaviors))] {
		var texts []string
		var vecs []map[string]float64
		for round := 0; len(texts) < m && round < 1+m/10; round++ {
			var ts struct {
				Texts []struct {
					Question string `json:"question"`
					Answer   string `json:"answer"`
				} `json:"texts"`
			}
			ok, err := chat(ctx, l, textsSystem, fmt.Sprintf("Behaviour: %s\n\nWrite %d texts.", b.Behavior, min(20, m-len(texts))), 0.9, uint64(round), &ts)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			for _, t := range ts.Texts {
				text := "Q: " + strings.TrimSpace(t.Question) + "\nA: " + strings.TrimSpace(t.Answer)
				v := lexical.WordCounts(text)
				dup := false
				for _, u := range vecs {
					if lexical.Cosine(u, v) >= 0.9 {
						dup = true
						break
					}
				}
				if !dup && strings.TrimSpace(t.Answer) != "" && len(texts) < m {
					texts, vecs = append(texts, text), append(vecs, v)
				}
			}
		}
		if len(texts) < (m+1)/2 {
			log.Warn("dropping a behaviour: too few distinct texts", "behavior", b.Behavior, "texts", len(texts), "wanted", m)
			continue
		}
		cat := b.Category
		if cat != "topic" && cat != "style" && cat != "format" && cat != "length" {
			cat = "style"
		}
		out = append(out, schema.Truth{ID: fmt.Sprintf("llm:%d", i+1), Behavior: b.Behavior, Category: cat, Source: sess.Ref(), Texts: texts})
	}
	return out, nil
}

// Rubric returns the assistant's rating of every hypothesis (columns) as a description of every
// truth's behaviour (rows).
func Rubric(ctx context.Context, l roles.LLM, truths []schema.Truth, hyps []schema.Hypothesis) ([][]float64, error) {
	sim := make([][]float64, len(truths))
	for i, t := range truths {
		sim[i] = make([]float64, len(hyps))
		for j, h := range hyps {
			var err error
			if sim[i][j], err = rubric(ctx, l, t.Behavior, h.Text); err != nil {
				return nil, err
			}
		}
	}
	return sim, nil
}

func rubric(ctx context.Context, l roles.LLM, behavior, hypothesis string) (float64, error) {
	var v struct {
		Score *float64 `json:"score"`
	}
	ok, err := chat(ctx, l, rubricSystem, fmt.Sprintf("Inserted behaviour: %s\n\nHypothesis: %s", behavior, hypothesis), 0, 0, &v)
	if err != nil {
		return 0, err
	}
	if !ok || v.Score == nil || (*v.Score != 0 && *v.Score != 0.5 && *v.Score != 1) {
		return math.NaN(), nil
	}
	return *v.Score, nil
}
