// Package roles is what the assistant is asked to do in mbd: propose hypotheses
// from two groups of texts, judge a pair of texts (or several pairs in one request) against a
// property, write texts that show a property (or its opposite), and interrogate a hidden model.
// Two implementations share one interface: LLM (any chat model behind package assistant, with
// fixed prompts, temperature 0 for judges, JSON answers parsed strictly) and Builtin (package
// lexical: offline and statistical).
//
// Judges never see model names: a hypothesis is stored as a property ("ends with a question to the
// user") plus a direction (B>A), and judges only see the property and texts in a recorded, random
// order. An answer that cannot be parsed, or a refusal, is Invalid and counted as such — never
// turned into a guess; in a batch judgment, a refused or malformed answer or one with the wrong
// number of verdicts makes every pair of the request Invalid, an unknown verdict only its pair.
package roles

import (
	"context"
	"errors"

	"github.com/mbd-dev/mbd/internal/lexical"
)

// Sample is one text shown to the proposer.
type Sample struct {
	Prompt string
	Text   string
}

// Proposal is a proposed hypothesis.
type Proposal struct {
	Property  string // the property, without model names
	Direction string // B>A or A>B
	Text      string // the hypothesis for people
	Kind      string // llm or lexical
	// ShareA, ShareB: share of the proposer's A and B texts that show the property by the builtin
	// judge (lexical proposals only; NaN otherwise).
	ShareA, ShareB float64
}

// Verdict is a judge's answer about a pair of texts (see lexical.Verdict).
type Verdict = lexical.Verdict

// Verdicts.
const (
	Invalid = lexical.Invalid
	First   = lexical.First
	Second  = lexical.Second
	Tie     = lexical.Tie
)

// Turn is one exchange of an interrogation.
type Turn struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Interrogation is the outcome of an interactive trial.
type Interrogation struct {
	Turns []Turn `json:"turns"`
	// Shows is the judge's call that the hidden model shows the property (more than usual);
	// meaningful only when Valid.
	Shows bool `json:"shows"`
	Valid bool `json:"valid"`
}

// ErrNotAvailable is returned by roles an implementation cannot play.
var ErrNotAvailable = errors.New("not available with this assistant")

// ErrInvalidAnswer is returned by Propose when the assistant's answer was refused or could not be
// parsed: the caller counts it and goes on.
var ErrInvalidAnswer = errors.New("the assistant's answer was refused or could not be parsed")

// Assistant plays the roles.
type Assistant interface {
	Ref() string
	// Propose returns up to n hypotheses about how texts b differ from texts a, different from
	// earlier (properties already proposed).
	Propose(ctx context.Context, a, b []Sample, earlier []string, n int) ([]Proposal, error)
	// JudgePair says which text shows property more.
	JudgePair(ctx context.Context, property, prompt, first, second string) (Verdict, error)
	// JudgePairs judges several pairs against one property (an LLM in one request) and returns
	// one verdict per pair, in order.
	JudgePairs(ctx context.Context, property string, pairs []PairToJudge) ([]Verdict, error)
	// Exemplify writes an answer to prompt that shows property (shows) or clearly does not,
	// changing the given base answer as little as needed (so that the texts written for the two
	// sides of one prompt are minimal pairs); ok is false when the answer was refused or
	// unparsable.
	Exemplify(ctx context.Context, property, prompt, base string, shows bool) (text string, ok bool, err error)
	// Interrogate converses with a hidden model through ask for rounds turns, starting from the
	// held-out prompts given, and says whether it shows property more (i.e. is the model ref says
	// the property favours). ref holds the shares of texts showing the property in each model's
	// discovery texts when known (builtin needs them).
	Interrogate(ctx context.Context, property string, ref Reference, prompts []string, rounds int, ask func(ctx context.Context, question string) (string, error)) (Interrogation, error)
}

// Reference is what is known of the property from the hypothesis: the shares of A's and B's
// discovery texts showing it (NaN when unknown) and which model it is said to favour.
type Reference struct {
	ShareA, ShareB float64
	FavoursB       bool
}
