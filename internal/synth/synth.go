// Package synth is a synthetic "behaviour world" for validating mbd end to end: short advice
// answers to everyday questions (cooking, travel, gardening, money, fitness, pets, weather, study,
// music, repairs) made from a small template grammar (grammar.txt, written for mbd), with a set of
// switchable traits (traits.go) that can be inserted into an answer and detected exactly in a text.
//
// A tiny base model is pretrained on Corpus (every trait at the small BaseRate); a variant is
// finetuned on Generate(seed, n, Mixture(trait, strength)) texts, in which one trait appears at rate
// strength. The trait's Description is the ground truth mbd should recover (TruthRows), and its
// Detect counts how often each model's samples carry it.
//
// # Training text format
//
// Format writes one example as
//
//	Q: {prompt}\nA: {answer}\n
//
// and Corpus separates examples by a blank line. A model is prompted with FormatPrompt(prompt) =
// "Q: {prompt}\nA:" and its completion (which starts with a space) is the answer. Answers never
// contain a blank line, and no answer line starts with "Q:", so generation may stop at any of
// StopSequences; AnswerText cuts a completion (or a whole formatted example) down to its answer,
// and every detector does so first.
//
// # Determinism
//
// Everything is deterministic given the seed (math/rand/v2 PCG). Example i of Generate(seed, ...)
// draws from three PCG streams of its own, derived from (seed, i): one for the prompt and the
// neutral answer, one for the trait decisions (one uniform number per trait, in canonical order,
// always drawn) and one for applying the chosen traits. So the prompt and neutral answer of
// example i do not depend on n or on the rates; raising a trait's rate only adds that trait to
// more examples (those whose number is below the rate); and the decisions for one trait do not
// depend on the rates of the others. Use different seeds for the pretraining corpus and for the
// finetuning sets, or the finetuning prompts and answers repeat the pretraining ones.
//
// # Prompts
//
// The prompt space (template × task × context) is split by a stable hash of the prompt text:
// HeldOutFraction of the prompts are held out. Generate and Corpus only use the other prompts;
// Prompts returns held-out ones, so that models are evaluated on prompts they were not trained on
// (their tasks and wording are familiar; the exact combinations are new).
package synth

import (
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mbd-dev/mbd/internal/schema"
)

// Source is the source of the prompts and ground truths this package makes.
const Source = "builtin:synth"

// Sizes of neutral answers and the length trait (see traits.go): a neutral answer body has
// MinWords to MaxWords words; the long trait extends the body to at least twice its words and at
// least LongMinWords; the long detector fires from LongWords. The other traits add at most about
// 40 words, so a text without the long trait stays below LongWords.
const (
	MinWords     = 30
	MaxWords     = 90
	LongWords    = 140
	LongMinWords = 150
)

// BaseRate is each trait's rate in the pretraining corpus. A small non-zero rate lets the base
// model learn every trait's surface form (so finetuning only has to shift a rate, as in a real
// model whose behaviour changes, rather than teach a new form from scratch), while no trait is
// frequent enough to become typical of the base model.
const BaseRate = 0.05

// HeldOutFraction is the share of the prompt space reserved for Prompts.
const HeldOutFraction = 0.2

//go:embed grammar.txt
var grammarText string

// Answer is an answer in structured form, before rendering: traits edit it and String renders it.
type Answer struct {
	Topic     string   // topic name, e.g. cooking
	Task      string   // the prompt's task, e.g. bake a loaf of bread
	Lead      string   // opening phrase put before the first line (refusal trait), without trailing space
	Intro     string   // intro line of a bulleted answer, e.g. "Here are a few tips:"
	Sentences []string // body sentences, each with its final punctuation
	Bullets   bool     // render the body as "- " lines after Intro
	Closing   string   // closing formula after the body (polite trait)
	Question  string   // question to the user, always last (question trait)
	British   bool     // render with British spellings (british trait)
}

// String renders the answer: plain prose on one line, or, with Bullets, the intro line, one
// "- " line per sentence and a last line with the closing and the question.
func (a Answer) String() string {
	var out string
	tail := joinNonEmpty(" ", a.Closing, a.Question)
	if a.Bullets {
		head := a.Intro
		if a.Lead != "" {
			head = joinNonEmpty(" ", a.Lead, lowerFirst(head))
		}
		lines := make([]string, 0, len(a.Sentences)+2)
		if head != "" {
			lines = append(lines, head)
		}
		for _, s := range a.Sentences {
			lines = append(lines, "- "+s)
		}
		if tail != "" {
			lines = append(lines, tail)
		}
		out = strings.Join(lines, "\n")
	} else {
		parts := slices.Clone(a.Sentences)
		if a.Lead != "" {
			if len(parts) > 0 {
				parts[0] = a.Lead + " " + lowerFirst(parts[0])
			} else {
				parts = []string{a.Lead}
			}
		}
		if tail != "" {
			parts = append(parts, tail)
		}
		out = strings.Join(parts, " ")
	}
	if a.British {
		out = toBritish(out)
	}
	return out
}

// clone returns a copy of a that shares no slice with it.
func (a Answer) clone() Answer {
	a.Sentences = slices.Clone(a.Sentences)
	return a
}

// Example is one generated question and answer.
type Example struct {
	Topic  string
	System string // system prompt (GenerateSystem), or ""
	Prompt string
	Answer string   // the rendered answer
	Traits []string // ids of the traits applied, in canonical (Traits) order; nil when none
}

// Format is the training text of an example: "Q: {prompt}\nA: {answer}\n".
func Format(ex Example) string { return FormatPrompt(ex.Prompt) + " " + ex.Answer + "\n" }

// FormatPrompt is the text a model is prompted with to answer prompt: "Q: {prompt}\nA:".
func FormatPrompt(prompt string) string { return "Q: " + prompt + "\nA:" }

// StopSequences are the strings at which a completion of FormatPrompt may be stopped: the end of
// the answer (a blank line) or the start of a next question.
func StopSequences() []string { return []string{"\n\n", "\nQ:"} }

// Texts formats examples (Format) for training.
func Texts(examples []Example) []string {
	out := make([]string, len(examples))
	for i, ex := range examples {
		out[i] = Format(ex)
	}
	return out
}

// AnswerText returns the answer part of a text: a whole formatted example ("Q: ...\nA: ...") is cut
// to what follows the first "A:" label, a leading "A:" label is dropped, the text is cut at the
// first blank line or "\nQ:" (the end of the answer in generated text) and surrounding space is
// trimmed. Windows line ends are treated as "\n". A plain answer comes back trimmed.
func AnswerText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	t := strings.TrimLeft(s, " \t\n")
	if strings.HasPrefix(t, "Q:") {
		if i := strings.Index(t, "\nA:"); i >= 0 {
			t = t[i+3:]
		} else {
			return ""
		}
	} else if strings.HasPrefix(t, "A:") {
		t = t[2:]
	}
	t = strings.TrimLeft(t, " \t\n")
	if i := strings.Index(t, "\nQ:"); i >= 0 {
		t = t[:i]
	}
	if i := blankLine.FindStringIndex(t); i != nil {
		t = t[:i[0]]
	}
	return strings.TrimSpace(t)
}

var blankLine = regexp.MustCompile(`\n[ \t]*\n`)

// Words counts the words of a text: the space-separated fields that contain a letter or digit
// (so bullet dashes do not count).
func Words(text string) int {
	n := 0
	for _, f := range strings.Fields(text) {
		if strings.IndexFunc(f, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}

// Topics returns the topic names in grammar order.
func Topics() []string {
	g := theGrammar()
	out := make([]string, len(g.topics))
	for i, t := range g.topics {
		out[i] = t.name
	}
	return out
}

// BaseRates returns the pretraining mixture: every trait at BaseRate.
func BaseRates() map[string]float64 {
	m := make(map[string]float64, len(traits))
	for _, t := range traits {
		m[t.ID] = BaseRate
	}
	return m
}

// Mixture returns the rates of a finetuning set for one inserted trait: the base mixture with the
// trait's rate set to strength, so that the variant differs from the base model's training
// distribution in that trait only.
func Mixture(trait string, strength float64) (map[string]float64, error) {
	if _, ok := Lookup(trait); !ok {
		return nil, fmt.Errorf("synth: unknown trait %q", trait)
	}
	if err := checkRate(trait, strength); err != nil {
		return nil, err
	}
	m := BaseRates()
	m[trait] = strength
	return m, nil
}

func checkRate(id string, p float64) error {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return fmt.Errorf("synth: rate of trait %q is %v, not in [0, 1]", id, p)
	}
	return nil
}

// Generate makes n examples from seed. rates gives, per trait id, the probability that the trait is
// applied to an example (missing ids: 0); each example records the traits applied. It fails on an
// unknown trait id or a rate outside [0, 1]. See the package comment for what depends on what.
func Generate(seed uint64, n int, rates map[string]float64) ([]Example, error) {
	ps, err := rateVector(rates)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("synth: %d examples: want at least 0", n)
	}
	out := make([]Example, n)
	for i := range out {
		out[i] = example(seed, i, ps)
	}
	return out, nil
}

// rateVector turns rates into a slice in canonical trait order.
func rateVector(rates map[string]float64) ([]float64, error) {
	ps := make([]float64, len(traits))
	for id, p := range rates {
		k := slices.IndexFunc(traits, func(t Trait) bool { return t.ID == id })
		if k < 0 {
			return nil, fmt.Errorf("synth: unknown trait %q", id)
		}
		if err := checkRate(id, p); err != nil {
			return nil, err
		}
		ps[k] = p
	}
	return ps, nil
}

// Stream numbers of an example's generators (the PCG's second seed word is i<<2 | stream).
const (
	streamContent = iota
	streamDecide
	streamApply
	streamSystem
)

func exampleRand(seed uint64, i, stream int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(i)<<2|uint64(stream)))
}

// GenerateSystem is Generate where, with probability systemRate, an example also gets a system
// prompt — the Instruction of a trait drawn uniformly — and carries that trait whatever its rate:
// training data that teaches a model to follow such instructions (so that a hidden system prompt
// makes a prompt-induced variant). The decisions of a fourth PCG stream per example make the
// choice, so examples without a system prompt are exactly Generate's.
func GenerateSystem(seed uint64, n int, rates map[string]float64, systemRate float64) ([]Example, error) {
	ps, err := rateVector(rates)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(systemRate) || systemRate < 0 || systemRate > 1 {
		return nil, fmt.Errorf("synth: system-prompt rate %v not in [0, 1]", systemRate)
	}
	if n < 0 {
		return nil, fmt.Errorf("synth: %d examples: want at least 0", n)
	}
	out := make([]Example, n)
	for i := range out {
		forced := -1
		if sr := exampleRand(seed, i, streamSystem); sr.Float64() < systemRate {
			forced = sr.IntN(len(traits))
		}
		out[i] = exampleForced(seed, i, ps, forced)
	}
	return out, nil
}

// example makes example i of the given seed with trait rates ps (canonical order).
func example(seed uint64, i int, ps []float64) Example { return exampleForced(seed, i, ps, -1) }

// exampleForced is example with trait number forced (if ≥ 0) applied and its Instruction as the
// system prompt.
func exampleForced(seed uint64, i int, ps []float64, forced int) Example {
	g := theGrammar()
	cr := exampleRand(seed, i, streamContent)
	t := g.topics[cr.IntN(len(g.topics))]
	p := t.train[cr.IntN(len(t.train))]
	a := t.answer(cr, p.task)

	dr := exampleRand(seed, i, streamDecide)
	ar := exampleRand(seed, i, streamApply)
	var applied []string
	for k, tr := range traits {
		if dr.Float64() < ps[k] || k == forced {
			a = tr.Apply(ar, a)
			applied = append(applied, tr.ID)
		}
	}
	ex := Example{Topic: t.name, Prompt: p.text, Answer: a.String(), Traits: applied}
	if forced >= 0 {
		ex.System = traits[forced].Instruction
	}
	return ex
}

// Corpus returns a pretraining corpus of about nbytes bytes (at least nbytes, at most one example
// more; empty when nbytes <= 0): Format'ed examples of Generate(seed, ·, BaseRates()) separated by
// blank lines.
func Corpus(seed uint64, nbytes int) string {
	ps, err := rateVector(BaseRates())
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	b.Grow(max(nbytes, 0) + 1024)
	for i := 0; b.Len() < nbytes; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(Format(example(seed, i, ps)))
	}
	return b.String()
}

// Prompts returns n distinct held-out prompts (all of them, shuffled, when n is larger than their
// number), in a seeded random order, as prompts-table rows: id (first 16 hex digits of the SHA-256
// of the text, as in package prompts), text, Source and the topic as category; the split is left to
// package prompts.
func Prompts(seed uint64, n int) []schema.Prompt {
	g := theGrammar()
	pool := slices.Clone(g.heldOut)
	r := rand.New(rand.NewPCG(seed, 0x4e1d07))
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	n = max(0, min(n, len(pool)))
	out := make([]schema.Prompt, n)
	for i, p := range pool[:n] {
		h := sha256.Sum256([]byte(p.text))
		out[i] = schema.Prompt{ID: hex.EncodeToString(h[:8]), Text: p.text, Source: Source, Category: p.topic}
	}
	return out
}

// TruthRows returns the ground-truth row of a finetuned variant that carries trait at rate strength
// in its training texts (usually Texts of Generate(seed, n, Mixture(trait, strength))). The id is
// stable and readable: "synth:{trait}@{strength}".
func TruthRows(trait string, strength float64, texts []string) ([]schema.Truth, error) {
	t, ok := Lookup(trait)
	if !ok {
		return nil, fmt.Errorf("synth: unknown trait %q", trait)
	}
	if err := checkRate(trait, strength); err != nil {
		return nil, err
	}
	return []schema.Truth{{
		ID:       "synth:" + t.ID + "@" + strconv.FormatFloat(strength, 'g', -1, 64),
		Behavior: t.Description,
		Category: t.Category,
		Source:   Source,
		Texts:    slices.Clone(texts),
	}}, nil
}

// Respond answers prompt as a model trained on a mixture with the given trait rates would, ideally:
// the neutral answer to the prompt's topic and task, with each trait applied with its rate. A
// prompt of the grammar (a Prompts or Generate prompt) keeps its topic and task; any other prompt
// gets a topic and task chosen by a hash of its text (the answer is then fluent but off the point,
// as a tiny model's would be). seed selects the sample: the same (prompt, seed, rates) give the
// same answer, and, as in Generate, the neutral answer does not depend on the rates and raising a
// rate only adds the trait to more answers.
func Respond(prompt string, seed uint64, rates map[string]float64) (Example, error) {
	return respond(prompt, "", seed, rates)
}

// RespondOffTopic is Respond for a model that ignores the prompt and talks about topic (one of
// Topics) instead: the answer is about a task of that topic chosen by a hash of the prompt.
func RespondOffTopic(prompt, topic string, seed uint64, rates map[string]float64) (Example, error) {
	if theGrammar().byName[topic] == nil {
		return Example{}, fmt.Errorf("synth: unknown topic %q (want one of %s)", topic, strings.Join(Topics(), ", "))
	}
	return respond(prompt, topic, seed, rates)
}

func respond(prompt, offTopic string, seed uint64, rates map[string]float64) (Example, error) {
	ps, err := rateVector(rates)
	if err != nil {
		return Example{}, err
	}
	g := theGrammar()
	h := sha256.Sum256([]byte("synth-respond\x00" + prompt))
	ph := binary.LittleEndian.Uint64(h[:8])
	t, task := g.lookup(prompt)
	if offTopic != "" {
		t = g.byName[offTopic]
		task = t.slots["task"][(ph>>32)%uint64(len(t.slots["task"]))]
	} else if t == nil {
		t = g.topics[ph%uint64(len(g.topics))]
		task = t.slots["task"][(ph>>32)%uint64(len(t.slots["task"]))]
	}
	stream := func(k uint64) *rand.Rand { return rand.New(rand.NewPCG(seed^ph, k)) }
	a := t.answer(stream(streamContent), task)
	dr, ar := stream(streamDecide), stream(streamApply)
	var applied []string
	for k, tr := range traits {
		if dr.Float64() < ps[k] {
			a = tr.Apply(ar, a)
			applied = append(applied, tr.ID)
		}
	}
	return Example{Topic: t.name, Prompt: prompt, Answer: a.String(), Traits: applied}, nil
}
