package synth

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
)

type promptEntry struct{ topic, task, text string }

type topic struct {
	name  string
	slots map[string][]string // task, tip, item, reason, time, say
	train []promptEntry       // prompts Generate may use
}

type grammar struct {
	common  map[string][]string // prompt, context, opener, middle, closer
	topics  []*topic
	byName  map[string]*topic
	heldOut []promptEntry

	indexOnce sync.Once
	index     map[string]promptEntry // every prompt by text (lookup)
}

var (
	grammarOnce sync.Once
	theG        *grammar
)

func theGrammar() *grammar {
	grammarOnce.Do(func() {
		g, err := parseGrammar(grammarText)
		if err != nil {
			panic("synth: embedded grammar: " + err.Error())
		}
		theG = g
	})
	return theG
}

var (
	commonKeys = []string{"prompt", "context", "opener", "middle", "closer"}
	topicKeys  = []string{"task", "tip", "item", "reason", "time", "say"}
	slotRE     = regexp.MustCompile(`\{([A-Za-z]+)\}`)
)

func parseGrammar(text string) (*grammar, error) {
	g := &grammar{common: map[string][]string{}, byName: map[string]*topic{}}
	var cur map[string][]string
	var keys []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "[common]":
			cur, keys = g.common, commonKeys
		case strings.HasPrefix(line, "[topic ") && strings.HasSuffix(line, "]"):
			name := strings.TrimSpace(line[len("[topic ") : len(line)-1])
			if name == "" || g.byName[name] != nil {
				return nil, fmt.Errorf("line %d: empty or repeated topic %q", ln, name)
			}
			t := &topic{name: name, slots: map[string][]string{}}
			g.topics = append(g.topics, t)
			g.byName[name] = t
			cur, keys = t.slots, topicKeys
		default:
			k, v, ok := strings.Cut(line, ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || cur == nil || !slices.Contains(keys, k) || v == "" {
				return nil, fmt.Errorf("line %d: expected a key of %v and a value: %q", ln, keys, line)
			}
			cur[k] = append(cur[k], v)
		}
	}
	for _, k := range commonKeys {
		if len(g.common[k]) == 0 {
			return nil, fmt.Errorf("[common] has no %s", k)
		}
	}
	for _, t := range g.topics {
		for _, k := range topicKeys {
			if len(t.slots[k]) == 0 {
				return nil, fmt.Errorf("[topic %s] has no %s", t.name, k)
			}
		}
	}
	if len(g.topics) == 0 {
		return nil, fmt.Errorf("no topics")
	}
	// Enumerate the prompt space and split it.
	seen := map[string]bool{}
	for _, t := range g.topics {
		for _, task := range t.slots["task"] {
			for _, tmpl := range g.common["prompt"] {
				ctxs := []string{""}
				if strings.Contains(tmpl, "{context}") {
					ctxs = g.common["context"]
				}
				for _, c := range ctxs {
					text := strings.NewReplacer("{task}", task, "{context}", c).Replace(tmpl)
					if seen[text] {
						continue
					}
					seen[text] = true
					p := promptEntry{topic: t.name, task: task, text: text}
					if heldOut(text) {
						g.heldOut = append(g.heldOut, p)
					} else {
						t.train = append(t.train, p)
					}
				}
			}
		}
		if len(t.train) == 0 {
			return nil, fmt.Errorf("[topic %s] has no training prompts", t.name)
		}
	}
	return g, nil
}

// heldOut reports whether a prompt text belongs to the held-out part of the prompt space.
func heldOut(text string) bool {
	h := sha256.Sum256([]byte("synth-heldout\x00" + text))
	return float64(binary.LittleEndian.Uint64(h[:8])>>11)/(1<<53) < HeldOutFraction
}

// used reports whether v (a slot value or sentence) already occurs in one of sents.
func used(sents []string, v string) bool {
	v = strings.ToLower(v)
	for _, s := range sents {
		if strings.Contains(strings.ToLower(s), v) {
			return true
		}
	}
	return false
}

// pick draws one of xs, preferring values not yet used in sents.
func pick(r *rand.Rand, xs []string, sents []string) string {
	v := xs[r.IntN(len(xs))]
	for try := 0; try < 12 && used(sents, v); try++ {
		v = xs[r.IntN(len(xs))]
	}
	return v
}

// expand fills the slots of tmpl with values of topic t (task is fixed), preferring values that do
// not occur in sents yet.
func (t *topic) expand(r *rand.Rand, tmpl, task string, sents []string) string {
	return slotRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		key := strings.ToLower(name)
		var v string
		if key == "task" {
			v = task
		} else if xs := t.slots[key]; len(xs) > 0 {
			v = pick(r, xs, sents)
		} else {
			panic("synth: unknown slot " + m)
		}
		if name != key {
			v = upperFirst(v)
		}
		return v
	})
}

// middle makes a body sentence that is not in sents yet (if it can).
func (t *topic) middle(r *rand.Rand, task string, sents []string) string {
	g := theGrammar()
	var s string
	for try := 0; try < 20; try++ {
		tmpl := g.common["middle"][r.IntN(len(g.common["middle"]))]
		if r.IntN(100) < 35 {
			tmpl = t.slots["say"][r.IntN(len(t.slots["say"]))]
		}
		s = t.expand(r, tmpl, task, sents)
		if !slices.Contains(sents, s) {
			break
		}
	}
	return s
}

// answer makes a neutral answer to task: an opener, middle sentences and sometimes a closer, 2 to 6
// sentences and MinWords to MaxWords words.
func (t *topic) answer(r *rand.Rand, task string) Answer {
	g := theGrammar()
	for range 1000 {
		n := 2 + r.IntN(5)
		closer := n >= 3 && r.IntN(5) < 2
		sents := []string{t.expand(r, g.common["opener"][r.IntN(len(g.common["opener"]))], task, nil)}
		for len(sents) < n-b2i(closer) {
			sents = append(sents, t.middle(r, task, sents))
		}
		if closer {
			sents = append(sents, g.common["closer"][r.IntN(len(g.common["closer"]))])
		}
		if w := Words(strings.Join(sents, " ")); w >= MinWords && w <= MaxWords {
			return Answer{Topic: t.name, Task: task, Sentences: sents}
		}
	}
	panic("synth: cannot make an answer of the required length for topic " + t.name)
}

// ---- small text helpers ----

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func joinNonEmpty(sep string, xs ...string) string {
	var parts []string
	for _, x := range xs {
		if x != "" {
			parts = append(parts, x)
		}
	}
	return strings.Join(parts, sep)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// lowerFirst lowercases the first letter, unless the first word is "I" or "I'...".
func lowerFirst(s string) string {
	if s == "" || s == "I" || strings.HasPrefix(s, "I ") || strings.HasPrefix(s, "I'") {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// lookup finds a grammar prompt by its text.
func (g *grammar) lookup(text string) (*topic, string) {
	g.indexOnce.Do(func() {
		g.index = map[string]promptEntry{}
		for _, p := range g.heldOut {
			g.index[p.text] = p
		}
		for _, t := range g.topics {
			for _, p := range t.train {
				g.index[p.text] = p
			}
		}
	})
	p, ok := g.index[text]
	if !ok {
		return nil, ""
	}
	return g.byName[p.topic], p.task
}
