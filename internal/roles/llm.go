package roles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/schema"
)

// Chatter is what LLM needs of an assistant client (assistant.Client).
type Chatter interface {
	Ref() string
	Chat(ctx context.Context, req assistant.Request) (assistant.Response, error)
}

// LLM plays the roles with a chat model.
type LLM struct {
	C Chatter
	// MaxText bounds the characters of each text shown (longer texts are cut, marked "[...]").
	MaxText int
}

// Ref is the assistant's reference.
func (l LLM) Ref() string { return l.C.Ref() }

func (l LLM) cut(s string) string {
	n := l.MaxText
	if n == 0 {
		n = 1500
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + " [...]"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ask sends a JSON request and decodes the answer strictly into v. ok is false when the answer
// was refused or does not decode (then it is counted invalid by the caller).
func (l LLM) ask(ctx context.Context, system, user string, temperature float64, seed uint64, v any) (ok bool, err error) {
	resp, err := l.chat(ctx, system, user, temperature, seed, 1024)
	if err != nil {
		return false, err
	}
	if resp.Refused {
		return false, nil
	}
	return DecodeStrict(resp.Text, v) == nil, nil
}

// chat sends a system and a user message and asks for a JSON answer of at most maxTokens tokens.
func (l LLM) chat(ctx context.Context, system, user string, temperature float64, seed uint64, maxTokens int) (assistant.Response, error) {
	return l.C.Chat(ctx, assistant.Request{
		Messages:    []assistant.Message{{Role: assistant.System, Content: system}, {Role: assistant.User, Content: user}},
		Temperature: temperature, MaxTokens: maxTokens, JSON: true, Seed: seed,
	})
}

// DecodeStrict decodes text, which must be exactly one JSON object (optionally inside one ```json
// fence), into v, refusing unknown fields and trailing data.
func DecodeStrict(text string, v any) error {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "```") {
		t = strings.TrimPrefix(strings.TrimPrefix(t, "```json"), "```")
		var ok bool
		if t, ok = strings.CutSuffix(strings.TrimSpace(t), "```"); !ok {
			return fmt.Errorf("unterminated code fence")
		}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(t)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON object")
	}
	return nil
}

const proposeSystem = `You compare two language models, A and B, by reading their answers. You write hypotheses about how B's answers differ from A's: each a concrete, checkable property of a single answer (wording, topics, format, length, tone, habits), stated without naming either model, so that a judge who sees one answer could tell whether it shows the property. Answer with one JSON object and nothing else: {"hypotheses": [{"property": "...", "direction": "B>A" or "A>B"}]}. direction B>A means B's answers show the property more often than A's.`

// Propose asks for n hypotheses from the samples.
func (l LLM) Propose(ctx context.Context, as, bs []Sample, earlier []string, n int) ([]Proposal, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Answers of model A:\n")
	for i, s := range as {
		fmt.Fprintf(&b, "\n[A%d] Prompt: %s\nAnswer: %s\n", i+1, l.cut(s.Prompt), l.cut(s.Text))
	}
	fmt.Fprintf(&b, "\nAnswers of model B:\n")
	for i, s := range bs {
		fmt.Fprintf(&b, "\n[B%d] Prompt: %s\nAnswer: %s\n", i+1, l.cut(s.Prompt), l.cut(s.Text))
	}
	return l.proposals(ctx, proposeSystem, &b, earlier, n, "")
}

// proposals finishes a proposer request whose evidence is in b (the hypotheses already proposed,
// how many to write), asks it and keeps the well-formed hypotheses, up to n; suffix ends each
// hypothesis's text.
func (l LLM) proposals(ctx context.Context, system string, b *strings.Builder, earlier []string, n int, suffix string) ([]Proposal, error) {
	if len(earlier) > 0 {
		fmt.Fprintf(b, "\nAlready proposed (write different ones):\n")
		for _, e := range earlier {
			fmt.Fprintf(b, "- %s\n", e)
		}
	}
	fmt.Fprintf(b, "\nWrite up to %d hypotheses about how B's answers differ from A's.", n)
	var v struct {
		Hypotheses []struct {
			Property  string `json:"property"`
			Direction string `json:"direction"`
		} `json:"hypotheses"`
	}
	ok, err := l.ask(ctx, system, b.String(), 0.7, 0, &v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrInvalidAnswer
	}
	var out []Proposal
	for _, h := range v.Hypotheses {
		p := strings.TrimSpace(h.Property)
		if p == "" || (h.Direction != schema.DirectionBA && h.Direction != schema.DirectionAB) {
			continue // a malformed item is dropped, the rest kept
		}
		more, less := "B", "A"
		if h.Direction == schema.DirectionAB {
			more, less = "A", "B"
		}
		out = append(out, Proposal{Property: p, Direction: h.Direction, Kind: "llm", ShareA: math.NaN(), ShareB: math.NaN(),
			Text: fmt.Sprintf("%s's answers more often than %s's: %s%s", more, less, p, suffix)})
		if len(out) == n {
			break
		}
	}
	return out, nil
}

const judgeSystem = `You are a careful, impartial judge. You are given a property and two answers to the same prompt. Decide which answer shows the property more. Judge only the property; ignore quality, length and order unless the property is about them. Answer with one JSON object and nothing else: {"choice": "1"} if the first answer shows it more, {"choice": "2"} if the second does, {"choice": "same"} if they show it equally or neither shows it.`

// JudgePair asks which text shows property more (temperature 0).
func (l LLM) JudgePair(ctx context.Context, property, prompt, first, second string) (Verdict, error) {
	user := fmt.Sprintf("Property: %s\n\nPrompt: %s\n\nAnswer 1:\n%s\n\nAnswer 2:\n%s", property, l.cut(prompt), l.cut(first), l.cut(second))
	var v struct {
		Choice string `json:"choice"`
	}
	ok, err := l.ask(ctx, judgeSystem, user, 0, 0, &v)
	if err != nil || !ok {
		return Invalid, err
	}
	return choice(v.Choice), nil
}

const exemplifySystem = `You write example answers for a test. Given a prompt, an example answer and a property, rewrite the example answer so that it clearly shows the property, or, when asked, so that it clearly does not show it; change as little as needed and keep it natural and plausible. Answer with one JSON object and nothing else: {"answer": "..."}.`

// Exemplify rewrites base to show property (or clearly not).
func (l LLM) Exemplify(ctx context.Context, property, prompt, base string, shows bool) (string, bool, error) {
	want := "clearly shows the property"
	if !shows {
		want = "clearly does NOT show the property"
	}
	user := fmt.Sprintf("Property: %s\n\nPrompt: %s\n\nExample answer:\n%s\n\nRewrite the example answer so that it %s.", property, l.cut(prompt), l.cut(base), want)
	var v struct {
		Answer string `json:"answer"`
	}
	ok, err := l.ask(ctx, exemplifySystem, user, 0, 0, &v)
	if err != nil || !ok || strings.TrimSpace(v.Answer) == "" {
		return "", false, err
	}
	return v.Answer, true, nil
}

const interrogateSystem = `You are testing a hidden language model for one property. You may ask it questions, one per turn; choose questions likely to reveal the property (you may use or adapt the suggested prompts). After the last answer you decide whether the model shows the property more than a typical assistant would. Answer every turn with one JSON object and nothing else: {"question": "..."} to ask, or, when told to decide, {"shows": true} or {"shows": false}.`

// Interrogate plays the interactive game.
func (l LLM) Interrogate(ctx context.Context, property string, _ Reference, prompts []string, rounds int, askModel func(context.Context, string) (string, error)) (Interrogation, error) {
	var it Interrogation
	history := fmt.Sprintf("Property: %s\nSuggested prompts:\n", property)
	for _, p := range prompts[:min(len(prompts), rounds)] {
		history += "- " + l.cut(p) + "\n"
	}
	for r := 0; r < rounds; r++ {
		var q struct {
			Question string `json:"question"`
		}
		user := history + fmt.Sprintf("\nTurn %d of %d: ask your question.", r+1, rounds)
		ok, err := l.ask(ctx, interrogateSystem, user, 0, 0, &q)
		if err != nil {
			return it, err
		}
		if !ok || strings.TrimSpace(q.Question) == "" {
			return it, nil // invalid trial
		}
		ans, err := askModel(ctx, q.Question)
		if err != nil {
			return it, err
		}
		it.Turns = append(it.Turns, Turn{Question: q.Question, Answer: ans})
		history += fmt.Sprintf("\nQuestion %d: %s\nAnswer %d: %s\n", r+1, q.Question, r+1, l.cut(ans))
	}
	var d struct {
		Shows *bool `json:"shows"`
	}
	ok, err := l.ask(ctx, interrogateSystem, history+"\nDecide now.", 0, 0, &d)
	if err != nil || !ok || d.Shows == nil {
		return it, err
	}
	it.Shows, it.Valid = *d.Shows, true
	return it, nil
}
