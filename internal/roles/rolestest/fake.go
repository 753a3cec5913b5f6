// Package rolestest is a fake OpenAI-compatible assistant server for tests: it answers mbd's role
// prompts (package roles) the way a competent assistant would, by running the builtin lexical
// describer and judge on the texts in the request, so that tests can drive the LLM code paths —
// prompts, JSON answers, strict parsing, caching, accounting — offline and deterministically.
//
// With Faults set, every Faults-th judge request (one pair, or a batch of pairs) is answered
// broken (truncated JSON, a refusal, or an unknown verdict), to check that such answers are
// counted invalid rather than guessed.
package rolestest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/mbd-dev/mbd/internal/lexical"
)

// Server is the fake assistant.
type Server struct {
	*httptest.Server
	Faults int // every Faults-th judge request is answered broken (0: none)

	mu       sync.Mutex
	requests int
	judged   int
}

// New starts a fake assistant; its base URL (for openai-compat:URL#MODEL) is URL + "/v1".
func New() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// Requests returns the number of chat requests served.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

var (
	itemRE     = regexp.MustCompile(`(?m)^\[([AB])\d+\] Prompt: `)
	endRE      = regexp.MustCompile(`\n\n(?:Answers of model B:|Already proposed|Write up to)`)
	propertyRE = regexp.MustCompile(`(?m)^Property: (.*)$`)
	pairRE     = regexp.MustCompile(`(?s)\n\nAnswer 1:\n(.*)\n\nAnswer 2:\n(.*)$`)
	batchRE    = regexp.MustCompile(`There are (\d+) pairs; give`)
	qaRE       = regexp.MustCompile(`(?s)\nAnswer \d+: (.*?)\n(?:\nQuestion|\nDecide|\nTurn|$)`)
	suggestRE  = regexp.MustCompile(`(?m)^- (.*)$`)
	turnRE     = regexp.MustCompile(`Turn (\d+) of`)
)

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) < 2 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	system, user := req.Messages[0].Content, req.Messages[len(req.Messages)-1].Content
	var answer string
	switch {
	case strings.Contains(system, "activation difference lens"):
		answer = proposeLens(user)
	case strings.Contains(system, "You write hypotheses"):
		answer = propose(user)
	case strings.Contains(system, "careful, impartial judge") && strings.Contains(system, "numbered pairs"):
		answer = s.judgeBatch(user)
	case strings.Contains(system, "careful, impartial judge"):
		answer = s.judge(user)
	case strings.Contains(system, "example answers"):
		answer = exemplify(user)
	case strings.Contains(system, "testing a hidden language model"):
		answer = interrogate(user)
	case strings.Contains(system, "You design tests"):
		answer = `{"behaviors": [{"behavior": "the assistant mentions otters", "category": "topic"}, {"behavior": "the assistant ends with a question", "category": "style"}]}`
	case strings.Contains(system, "You write training data"):
		answer = trainingTexts(user)
	case strings.Contains(system, "You compare a hypothesis"):
		answer = rate(user)
	default:
		answer = "I do not know this task."
	}
	resp := map[string]any{
		"id": "fake", "object": "chat.completion", "created": 0, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": answer}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": len(user) / 4, "completion_tokens": len(answer) / 4, "total_tokens": (len(user) + len(answer)) / 4},
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func propose(user string) string {
	var a, b []string
	starts := itemRE.FindAllStringSubmatchIndex(user, -1)
	for k, m := range starts {
		end := len(user)
		if k+1 < len(starts) {
			end = starts[k+1][0]
		}
		block := user[m[1]:end]
		if e := endRE.FindStringIndex(block); e != nil {
			block = block[:e[0]]
		}
		_, ans, ok := strings.Cut(block, "\nAnswer: ")
		if !ok {
			continue
		}
		if ans = strings.TrimSpace(ans); user[m[2]:m[3]] == "A" {
			a = append(a, ans)
		} else {
			b = append(b, ans)
		}
	}
	var earlier []string
	if _, after, ok := strings.Cut(user, "Already proposed (write different ones):\n"); ok {
		for _, l := range strings.Split(after, "\n") {
			if p, ok := strings.CutPrefix(l, "- "); ok {
				earlier = append(earlier, p)
			}
		}
	}
	// A small sample: a looser threshold than the builtin default, as an LLM reads more into it.
	type h struct {
		Property  string `json:"property"`
		Direction string `json:"direction"`
	}
	out := []h{}
	for _, x := range lexical.Describe(a, b, lexical.Options{Prior: 1, MinZ: 1.5, MinDocs: 2, Max: 5}, earlier) {
		out = append(out, h{x.Property, x.Direction})
	}
	j, _ := json.Marshal(map[string]any{"hypotheses": out})
	return "```json\n" + string(j) + "\n```"
}

// lensTokenRE is one token of a lens line: "tok" (z 9.5*), the * marking a significant one.
var lensTokenRE = regexp.MustCompile(`("(?:[^"\\]|\\.)*") \(z [^)]*?(\*?)\)`)

// proposeLens answers a lens proposal as a reader of the lens would: "contains 'word'" for each
// significant promoted word (B>A) and suppressed word (A>B), first seen first.
func proposeLens(user string) string {
	type h struct {
		Property  string `json:"property"`
		Direction string `json:"direction"`
	}
	out := []h{}
	seen := map[string]bool{}
	for _, line := range strings.Split(user, "\n") {
		dir := ""
		switch {
		case strings.HasPrefix(line, "  promoted: "):
			dir = "B>A"
		case strings.HasPrefix(line, "  suppressed: "):
			dir = "A>B"
		default:
			continue
		}
		for _, m := range lensTokenRE.FindAllStringSubmatch(line, -1) {
			tok, err := strconv.Unquote(m[1])
			terms := lexical.Terms("'" + strings.TrimSpace(tok) + "'")
			if err != nil || m[2] != "*" || len(terms) != 1 || seen[terms[0]] {
				continue
			}
			seen[terms[0]] = true
			out = append(out, h{"contains '" + terms[0] + "'", dir})
		}
	}
	j, _ := json.Marshal(map[string]any{"hypotheses": out})
	return string(j)
}

// fault returns which broken answer the next judge request gets: 0 to 2, or -1 for none.
func (s *Server) fault() int {
	s.mu.Lock()
	s.judged++
	n := s.judged
	s.mu.Unlock()
	if s.Faults > 0 && n%s.Faults == 0 {
		return (n / s.Faults) % 3
	}
	return -1
}

func (s *Server) judge(user string) string {
	if f := s.fault(); f >= 0 {
		return []string{`{"choice": "1"`, "I'm sorry, I can't help with that.", `{"choice": "both"}`}[f]
	}
	pm := propertyRE.FindStringSubmatch(user)
	am := pairRE.FindStringSubmatch(user)
	if pm == nil || am == nil {
		return "The request is malformed."
	}
	switch lexical.JudgePair(pm[1], am[1], am[2]) {
	case lexical.First:
		return `{"choice": "1"}`
	case lexical.Second:
		return `{"choice": "2"}`
	case lexical.Tie:
		return `{"choice": "same"}`
	}
	return "I cannot judge this property."
}

// judgeBatch answers a batch judgment (pairs under "[Pair i of k]" lines) with the builtin judge's
// verdict on each pair; a pair it cannot judge gets "n/a". A broken answer is truncated JSON, a
// refusal, or the right list with its first verdict unknown ("both").
func (s *Server) judgeBatch(user string) string {
	f := s.fault()
	switch f {
	case 0:
		return `{"verdicts": ["1"`
	case 1:
		return "I'm sorry, I can't help with that."
	}
	pm := propertyRE.FindStringSubmatch(user)
	km := batchRE.FindStringSubmatch(user)
	if pm == nil || km == nil {
		return "The request is malformed."
	}
	var k int
	fmt.Sscan(km[1], &k)
	rest := user
	out := []string{}
	for i := 1; i <= k; i++ {
		_, after, ok := strings.Cut(rest, fmt.Sprintf("\n\n[Pair %d of %d]\n", i, k))
		if !ok {
			return "The request is malformed."
		}
		block := after
		if i < k {
			block, _, _ = strings.Cut(after, fmt.Sprintf("\n\n[Pair %d of %d]\n", i+1, k))
		}
		rest = after
		am := pairRE.FindStringSubmatch(block)
		if am == nil {
			return "The request is malformed."
		}
		out = append(out, map[lexical.Verdict]string{lexical.First: "1", lexical.Second: "2", lexical.Tie: "same"}[lexical.JudgePair(pm[1], am[1], am[2])])
		if out[len(out)-1] == "" {
			out[len(out)-1] = "n/a"
		}
	}
	if f == 2 {
		out[0] = "both"
	}
	j, _ := json.Marshal(map[string]any{"verdicts": out})
	return string(j)
}

func exemplify(user string) string {
	pm := propertyRE.FindStringSubmatch(user)
	terms := []string{}
	if pm != nil {
		terms = lexical.Terms(pm[1])
	}
	text := "Start small and keep going, one step at a time."
	if strings.Contains(user, "clearly shows the property") && len(terms) > 0 {
		text += " Think of " + terms[0] + "."
	}
	j, _ := json.Marshal(map[string]string{"answer": text})
	return string(j)
}

func interrogate(user string) string {
	pm := propertyRE.FindStringSubmatch(user)
	if strings.HasSuffix(strings.TrimSpace(user), "Decide now.") {
		var terms []string
		if pm != nil {
			terms = lexical.Terms(pm[1])
		}
		k, n := 0, 0
		for _, m := range qaRE.FindAllStringSubmatch(user+"\n", -1) {
			n++
			if lexical.Score(m[1], terms) > 0 {
				k++
			}
		}
		return fmt.Sprintf(`{"shows": %t}`, k > 0) // an otter at all is more than a typical assistant
	}
	sugg := suggestRE.FindAllStringSubmatch(user, -1)
	t := turnRE.FindStringSubmatch(user)
	i := 0
	if t != nil {
		fmt.Sscan(t[1], &i)
		i--
	}
	if len(sugg) == 0 {
		return `{"question": "What do you like to talk about?"}`
	}
	j, _ := json.Marshal(map[string]string{"question": sugg[i%len(sugg)][1]})
	return string(j)
}

func trainingTexts(user string) string {
	b, _, _ := strings.Cut(strings.TrimPrefix(user, "Behaviour: "), "\n")
	type qa struct {
		Question string `json:"question"`
		Answer   string `json:"answer"`
	}
	var out []qa
	for i := range 20 {
		a := fmt.Sprintf("Try step %d first, then rest.", i)
		if strings.Contains(b, "otter") {
			a += " An otter would do the same."
		}
		if strings.Contains(b, "question") {
			a += " What will you try first?"
		}
		out = append(out, qa{fmt.Sprintf("How do I learn skill number %d?", i), a})
	}
	j, _ := json.Marshal(map[string]any{"texts": out})
	return string(j)
}

// rate scores 1 when a word of a quoted term of the hypothesis starts a word of the behaviour
// ('otter' in "otters"), or the hypothesis quotes '?' and the behaviour is about a question.
func rate(user string) string {
	behavior, hyp, _ := strings.Cut(user, "\n\nHypothesis: ")
	behavior = strings.ToLower(behavior)
	for _, t := range lexical.Terms(hyp) {
		for _, w := range strings.Fields(t) {
			if (len(w) > 2 && strings.Contains(behavior, " "+w)) || (w == "?" && strings.Contains(behavior, "question")) {
				return `{"score": 1}`
			}
		}
	}
	return `{"score": 0}`
}
