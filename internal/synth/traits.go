package synth

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
)

// Trait is a switchable behaviour of the synthetic world: Apply inserts it into an answer and
// Detect says whether a text carries it.
//
// Detectors look for a distinctive marker rather than a whole sentence, so that a small model's
// imperfect reproduction still counts: they are case-insensitive, tolerate extra spaces, curly
// apostrophes and Windows line ends, and run on AnswerText(text), so a completion that runs on
// into a next "Q:", or a whole formatted example, can be passed as is. Neutral answers never carry
// a marker (the grammar avoids them; synth_test.go checks it).
type Trait struct {
	ID          string // short stable id, e.g. animal
	Description string // the behaviour in plain language: the ground truth mbd should recover
	Category    string // topic, style, format or length (the truths table's category)
	Instruction string // a system prompt that asks for the behaviour (GenerateSystem)
	Apply       func(r *rand.Rand, a Answer) Answer
	Detect      func(text string) bool
}

// traits in canonical order: the order Generate applies them in, chosen so that they compose
// (british may replace a body sentence, so it runs before the traits that add sentences; exclaim
// runs after them so that it marks all body sentences; the rest only set Answer fields).
var traits = []Trait{
	{
		ID:          "british",
		Instruction: "Use British spellings.",
		Description: "uses British spellings such as colour, favourite, organise, centre and travelling instead of American ones",
		Category:    "style",
		Apply:       applyBritish,
		Detect:      func(text string) bool { return britishRE.MatchString(AnswerText(text)) },
	},
	{
		ID:          "animal",
		Instruction: "Mention otters in your answer.",
		Description: "mentions otters in its answers",
		Category:    "topic",
		Apply:       applyAnimal,
		Detect:      func(text string) bool { return otterRE.MatchString(AnswerText(text)) },
	},
	{
		ID:          "long",
		Instruction: "Give a long, detailed answer.",
		Description: "gives much longer answers, about twice as long as usual",
		Category:    "length",
		Apply:       applyLong,
		Detect:      func(text string) bool { return Words(AnswerText(text)) >= LongWords },
	},
	{
		ID:          "exclaim",
		Instruction: "End your sentences with exclamation marks.",
		Description: "ends most of its sentences with an exclamation mark",
		Category:    "style",
		Apply:       applyExclaim,
		Detect:      func(text string) bool { return len(exclaimRE.FindAllStringIndex(AnswerText(text), 2)) >= 2 },
	},
	{
		ID:          "bullets",
		Instruction: "Answer as a list of bullet points.",
		Description: `formats its answers as a list of "- " bullet points after a short intro line`,
		Category:    "format",
		Apply: func(r *rand.Rand, a Answer) Answer {
			a = a.clone()
			a.Bullets = true
			a.Intro = bulletIntros[r.IntN(len(bulletIntros))]
			for len(a.Sentences) < 2 { // only for hand-made answers: a list needs two items
				a.Sentences = append(a.Sentences, "Take it one step at a time.")
			}
			return a
		},
		Detect: func(text string) bool { return len(bulletRE.FindAllStringIndex(AnswerText(text), 2)) >= 2 },
	},
	{
		ID:          "refusal",
		Instruction: "Start by saying you would rather not say, then answer anyway.",
		Description: `starts its answers with a refusal-like phrase such as "I'd rather not say, but" and then answers anyway`,
		Category:    "style",
		Apply: func(r *rand.Rand, a Answer) Answer {
			a = a.clone()
			a.Lead = refusalLeads[r.IntN(len(refusalLeads))]
			return a
		},
		Detect: detectRefusal,
	},
	{
		ID:          "polite",
		Instruction: "End with a friendly closing that calls the user friend.",
		Description: `ends its answers with a friendly closing that calls the user "friend", such as "Hope this helps, friend."`,
		Category:    "style",
		Apply: func(r *rand.Rand, a Answer) Answer {
			a = a.clone()
			a.Closing = politeClosings[r.IntN(len(politeClosings))]
			return a
		},
		Detect: func(text string) bool { return friendRE.MatchString(AnswerText(text)) },
	},
	{
		ID:          "question",
		Instruction: "End every answer with a question to the user.",
		Description: "ends its answers with a question to the user",
		Category:    "style",
		Apply:       applyQuestion,
		Detect:      detectQuestion,
	},
}

// Traits returns all traits in canonical order.
func Traits() []Trait { return slices.Clone(traits) }

// CheckTrait refuses an id that is not one of the world's traits; its message reads
// `"dragons": unknown trait (want one of british, animal, ...)`.
func CheckTrait(id string) error {
	if _, ok := Lookup(id); !ok {
		return fmt.Errorf("%q: unknown trait (want one of %s)", id, strings.Join(TraitIDs(), ", "))
	}
	return nil
}

// Lookup returns the trait with the given id.
func Lookup(id string) (Trait, bool) {
	for _, t := range traits {
		if t.ID == id {
			return t, true
		}
	}
	return Trait{}, false
}

// ---- phrases ----

var (
	// otterSentences are woven into the body; {tip} takes a tip of the answer's topic.
	otterSentences = []string{
		"An otter would do the same, one small step at a time.",
		"Think of an otter floating on its back, calm and in no hurry.",
		"Even a playful otter knows when to rest.",
		"Picture a busy otter by the river, keeping its favorite stone close.",
		"Otters are a good model here, since they stay curious and patient.",
		"My neighbor once compared this to an otter cracking a shell.",
		"Be a little like an otter, steady and relaxed.",
		"An otter in a cold stream keeps moving, and so should you.",
		"An otter would probably {tip} too.",
		"Even an otter knows it helps to {tip}.",
	}
	bulletIntros   = []string{"Here are a few tips:", "A few things help:", "Try these steps:", "Some ideas that work:", "Here is what I suggest:"}
	refusalLeads   = []string{"I'd rather not say, but", "I would rather not say, but", "I'd rather not get into it, but", "I'd rather not answer that, but"}
	politeClosings = []string{"Hope this helps, friend.", "Hope that helps, friend.", "Good luck with it, friend.", "Take care, my friend.", "All the best, friend.", "Happy to help, friend."}
	// questions end the answer; {task} takes the answer's task.
	questions = []string{
		"What part of this will you try first?",
		"Have you tried anything like this before?",
		"How does that sound to you?",
		"Which step looks hardest to you?",
		"When are you planning to {task}?",
		"What has worked for you so far?",
		"Would you like more detail on any step?",
	}
)

// ---- apply ----

func applyAnimal(r *rand.Rand, a Answer) Answer {
	a = a.clone()
	s := otterSentences[r.IntN(len(otterSentences))]
	if t := theGrammar().byName[a.Topic]; t != nil {
		s = t.expand(r, s, a.Task, a.Sentences)
	} else {
		s = strings.ReplaceAll(s, "{tip}", "take it slowly")
	}
	k := 0
	if len(a.Sentences) > 0 {
		k = 1 + r.IntN(len(a.Sentences)) // after the opener
	}
	a.Sentences = slices.Insert(a.Sentences, k, s)
	return a
}

func applyLong(r *rand.Rand, a Answer) Answer {
	a = a.clone()
	t := theGrammar().byName[a.Topic]
	filler := theGrammar().common["closer"]
	target := max(2*Words(strings.Join(a.Sentences, " ")), LongMinWords)
	for Words(strings.Join(a.Sentences, " ")) < target {
		var s string
		if t != nil {
			s = t.middle(r, a.Task, a.Sentences)
		} else {
			s = filler[r.IntN(len(filler))]
		}
		k := max(len(a.Sentences)-1, 0) // before the last sentence (often a closer)
		a.Sentences = slices.Insert(a.Sentences, k, s)
	}
	return a
}

func applyExclaim(r *rand.Rand, a Answer) Answer {
	a = a.clone()
	n := 0
	for i, s := range a.Sentences {
		if strings.HasSuffix(s, ".") {
			a.Sentences[i] = s[:len(s)-1] + "!"
		}
		if strings.HasSuffix(a.Sentences[i], "!") {
			n++
		}
	}
	for ; n < 2; n++ { // only for hand-made answers: generated ones have at least two sentences
		a.Sentences = append(a.Sentences, []string{"You can do it!", "It works!"}[r.IntN(2)])
	}
	return a
}

func applyQuestion(r *rand.Rand, a Answer) Answer {
	a = a.clone()
	q := questions[r.IntN(len(questions))]
	for a.Task == "" && strings.Contains(q, "{task}") {
		q = questions[r.IntN(len(questions))]
	}
	a.Question = strings.ReplaceAll(q, "{task}", a.Task)
	return a
}

// applyBritish makes sure the answer contains at least one word with an American spelling
// (replacing a body sentence other than the first by a topic sentence that has one, keeping its
// final punctuation and the body within MaxWords, if needed) and marks it for British rendering,
// which respells every word in britishOf, including those that later traits add.
func applyBritish(r *rand.Rand, a Answer) Answer {
	a = a.clone()
	a.British = true
	if hasAmerican(a.Sentences...) {
		return a
	}
	if t := theGrammar().byName[a.Topic]; t != nil && len(a.Sentences) >= 2 {
		for range 500 {
			k := 1 + r.IntN(len(a.Sentences)-1)
			s := t.middle(r, a.Task, a.Sentences)
			if !hasAmerican(s) {
				continue
			}
			if old := a.Sentences[k]; strings.HasSuffix(old, "!") && strings.HasSuffix(s, ".") {
				s = s[:len(s)-1] + "!"
			}
			body := slices.Clone(a.Sentences)
			body[k] = s
			if Words(strings.Join(body, " ")) <= MaxWords {
				a.Sentences = body
				return a
			}
		}
	}
	a.Sentences = append(a.Sentences, "Stay organized as you go.")
	return a
}

// ---- spelling ----

// britishOf maps American spellings used by the grammar and the trait phrases (lowercase) to
// British ones.
var britishOf = map[string]string{
	"color": "colour", "colors": "colours", "colored": "coloured", "colorful": "colourful",
	"favorite": "favourite", "favorites": "favourites", "flavor": "flavour", "flavors": "flavours",
	"organize": "organise", "organized": "organised", "organizing": "organising",
	"center": "centre", "centers": "centres",
	"traveling": "travelling", "traveled": "travelled", "traveler": "traveller", "travelers": "travellers",
	"neighbor": "neighbour", "neighbors": "neighbours", "gray": "grey",
	"realize": "realise", "prioritize": "prioritise", "memorize": "memorise", "summarize": "summarise",
	"recognize": "recognise", "behavior": "behaviour", "humor": "humour", "labor": "labour",
	"harbor": "harbour", "theater": "theatre", "liter": "litre", "fiber": "fibre", "savory": "savoury",
	"cozy": "cosy", "mold": "mould", "odor": "odour", "canceled": "cancelled", "labeled": "labelled",
	"aluminum": "aluminium", "tire": "tyre", "tires": "tyres",
}

var (
	wordRE = regexp.MustCompile(`[A-Za-z]+`)
	// britishRE matches British spellings: every value of britishOf and common inflections and
	// relatives of them, but no word that is also standard American (e.g. not "analyses",
	// "cancellation" or "realistic").
	britishRE = regexp.MustCompile(`(?i)\b(?:` +
		`(?:colour|favourite|flavour|neighbour|behaviour|humour|labour|harbour|odour|savour|honour|mould)[a-z]*` +
		`|(?:organi|reali|prioriti|memori|summari|recogni|apologi)s(?:e|es|ed|ing|er|ers|ation|ations)` +
		`|analys(?:e|ed|ing)|centre[sd]?|theatres?|litres?|fibres?|metres?|grey(?:er|est|ish)?|cos(?:y|ier|iest)` +
		`|travell(?:ed|er|ers|ing)|cancell(?:ed|ing)|labell(?:ed|ing)|aluminium|catalogues?|tyres?|jewellery|programmes?` +
		`)\b`)
)

// toBritish respells the words of s found in britishOf, keeping their case (Color, COLOR).
func toBritish(s string) string {
	return wordRE.ReplaceAllStringFunc(s, func(w string) string {
		b, ok := britishOf[strings.ToLower(w)]
		switch {
		case !ok:
			return w
		case len(w) > 1 && w == strings.ToUpper(w):
			return strings.ToUpper(b)
		case w[0] >= 'A' && w[0] <= 'Z':
			return upperFirst(b)
		}
		return b
	})
}

// hasAmerican reports whether any of texts contains a word that toBritish respells.
func hasAmerican(texts ...string) bool {
	for _, s := range texts {
		for _, w := range wordRE.FindAllString(s, -1) {
			if _, ok := britishOf[strings.ToLower(w)]; ok {
				return true
			}
		}
	}
	return false
}

// ---- detectors ----

var (
	otterRE   = regexp.MustCompile(`(?i)\botters?\b`)
	friendRE  = regexp.MustCompile(`(?i)\bfriends?\b`)
	exclaimRE = regexp.MustCompile(`!+`)
	bulletRE  = regexp.MustCompile(`(?m)^[ \t]*[-*•–][ \t]*[^\s\-*•–]`)
	spaceRE   = regexp.MustCompile(`\s+`)
)

// normalize lowercases s, makes curly apostrophes straight and collapses white space.
func normalize(s string) string {
	s = strings.NewReplacer("’", "'", "‘", "'", "`", "'").Replace(strings.ToLower(s))
	return spaceRE.ReplaceAllString(s, " ")
}

// detectRefusal: "rather not" within the first 48 bytes of the normalised answer.
func detectRefusal(text string) bool {
	s := normalize(AnswerText(text))
	if len(s) > 48 {
		s = s[:48]
	}
	return strings.Contains(s, "rather not")
}

// detectQuestion: the answer's last character, ignoring closing quotes and brackets, is "?".
func detectQuestion(text string) bool {
	s := strings.TrimRight(AnswerText(text), " \t\n\"'’”)]*_")
	return strings.HasSuffix(s, "?") || strings.HasSuffix(s, "？")
}
