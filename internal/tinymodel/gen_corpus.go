//go:build ignore

// gen_corpus.go writes corpus.txt, the default tokenizer-training text: about 48 KB of plain
// English made from the small template grammar below (stories, recipes, weather reports,
// dialogues, questions and answers, notes, schedules and facts), with digits, punctuation, a few
// accented words, blank lines and indentation so that a tokenizer trained on it sees the usual
// kinds of text. It is deterministic (a fixed PCG seed).
//
//	go generate ./internal/tinymodel
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

var r = rand.New(rand.NewPCG(2024, 11))

func pick(xs ...string) string { return xs[r.IntN(len(xs))] }
func pickL(xs []string) string { return xs[r.IntN(len(xs))] }

var (
	names   = []string{"Anna", "Tom", "Maria", "Kofi", "Lena", "Ravi", "Sofia", "Jonas", "Amara", "Felix", "Noor", "Hugo", "Mei", "Oscar", "Zoe", "Ibrahim", "Clara", "Mateo", "Yuki", "Elena"}
	jobs    = []string{"baker", "teacher", "fisherman", "nurse", "carpenter", "painter", "farmer", "librarian", "engineer", "gardener", "pilot", "doctor", "tailor", "musician", "shopkeeper"}
	adjs    = []string{"quiet", "cheerful", "curious", "careful", "brave", "tired", "clever", "patient", "generous", "stubborn", "gentle", "busy", "young", "old", "honest"}
	places  = []string{"a small village by the sea", "the old part of the city", "a farm near the river", "a house at the edge of the forest", "a narrow street full of shops", "a cabin in the mountains", "a busy harbour town", "an apartment above a bakery"}
	times   = []string{"morning", "evening", "afternoon", "night", "weekend", "Sunday", "spring", "winter"}
	acts    = []string{"walk to the market", "read by the window", "feed the chickens", "repair old chairs", "write letters to friends", "tend the vegetable garden", "play the violin", "bake fresh bread", "count the boats in the harbour", "paint the hills"}
	objs    = []string{"a letter", "a key", "a map", "a small box", "an old photograph", "a wooden bird", "a blue umbrella", "a broken clock", "a basket of apples", "a strange coin"}
	feels   = []string{"surprised", "worried", "delighted", "puzzled", "happy", "nervous", "relieved", "amazed"}
	towns   = []string{"Oslo", "Lisbon", "Nairobi", "Lima", "Osaka", "Toronto", "Cairo", "Dublin", "Hanoi", "Quito", "Zürich", "Kraków", "São Paulo", "Reykjavík"}
	days    = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	months  = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	skies   = []string{"clear skies", "light rain", "heavy clouds", "patchy fog", "scattered showers", "bright sunshine", "strong winds", "a few snow flurries"}
	dishes  = []string{"Tomato Soup", "Apple Pie", "Lentil Stew", "Banana Bread", "Vegetable Curry", "Pancakes", "Potato Salad", "Crème Brûlée", "Jalapeño Cornbread", "Mushroom Risotto"}
	foods   = []string{"flour", "sugar", "butter", "eggs", "milk", "onions", "garlic", "tomatoes", "carrots", "rice", "lentils", "apples", "salt", "olive oil", "cheese", "potatoes"}
	units   = []string{"cups of", "grams of", "tablespoons of", "teaspoons of", "pinches of", "pieces of"}
	verbs   = []string{"Mix", "Stir", "Chop", "Add", "Whisk", "Pour", "Slice", "Heat", "Boil", "Bake", "Fold in", "Season with"}
	animals = []string{"red fox", "barn owl", "sea turtle", "honey bee", "grey wolf", "river otter", "snow leopard", "blue whale", "koala", "hedgehog", "octopus", "penguin"}
	regions = []string{"northern Europe", "the Arctic", "tropical forests", "the grasslands of Africa", "the coasts of Australia", "mountain valleys", "warm oceans", "city parks"}
	eats    = []string{"insects", "small fish", "leaves and fruit", "seeds", "nectar", "crabs and shellfish", "grass", "berries"}
	topics  = []string{"the meeting", "the concert", "the trip", "the new library", "the garden project", "the exam", "the football match", "the bake sale"}
)

func sentenceCase(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func story() string {
	n, n2 := pickL(names), pickL(names)
	pr := pick("she", "he", "they")
	poss := map[string]string{"she": "her", "he": "his", "they": "their"}[pr]
	was := map[string]string{"she": "was", "he": "was", "they": "were"}[pr]
	var b strings.Builder
	fmt.Fprintf(&b, "%s was a %s %s who lived in %s. Every %s, %s would %s. ", n, pickL(adjs), pickL(jobs), pickL(places), pickL(times), pr, pickL(acts))
	fmt.Fprintf(&b, "One day, %s found %s under %s %s. ", pr, pickL(objs), pick("a stone", "the stairs", "an old table", "a pile of leaves", "the bed"), pick("near the door", "in the garden", "by the well", "behind the shed"))
	fmt.Fprintf(&b, "%s %s %s. \"What is this?\" %s asked %s. ", sentenceCase(pr), was, pickL(feels), n, pick("aloud", "quietly", n2))
	fmt.Fprintf(&b, "%s shrugged and said, \"I don't know, but it's %s.\" ", n2, pick("beautiful", "very old", "not ours", "worth keeping", "a little strange"))
	fmt.Fprintf(&b, "Later that %s, they %s, and by %d o'clock %s %s.", pickL(times), pick("asked the neighbours", "searched the attic", "looked at old maps", "visited the museum", "wrote down every clue"), 1+r.IntN(12), poss, pick("questions had answers", "worries were gone", "day was over", "curiosity had only grown"))
	return b.String()
}

func recipe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Recipe: %s\nServes %d. Preparation time: %d minutes.\n\nIngredients:\n", pickL(dishes), 2+r.IntN(6), 10+5*r.IntN(12))
	for i := 0; i < 3+r.IntN(4); i++ {
		q := fmt.Sprint(1 + r.IntN(4))
		if r.IntN(4) == 0 {
			q = pick("1/2", "1/4", "3/4", "1.5", "250", "100")
		}
		fmt.Fprintf(&b, "- %s %s %s\n", q, pickL(units), pickL(foods))
	}
	b.WriteString("\nSteps:\n")
	for i := 1; i <= 3+r.IntN(3); i++ {
		fmt.Fprintf(&b, "%d. %s the %s %s.\n", i, pickL(verbs), pickL(foods), pick("slowly", "for 5 minutes", "until golden", "in a large bowl", "over medium heat", "and set aside", "at 180 °C for 25–30 minutes"))
	}
	b.WriteString(pick("Enjoy!", "Serve warm.", "Best eaten fresh.", "Keeps for 3 days in the fridge."))
	return b.String()
}

func weather() string {
	t := r.IntN(35) - 5
	return fmt.Sprintf("Weather for %s, %s %d %s %d: %s, with a high of %d°C (%d°F) and a low of %d°C. Wind: %d km/h from the %s. Chance of rain: %d%%.",
		pickL(towns), pickL(days), 1+r.IntN(28), pickL(months), 2015+r.IntN(10), pickL(skies), t, t*9/5+32, t-3-r.IntN(8),
		5+r.IntN(40), pick("north", "south", "east", "west", "north-west", "south-east"), 5*r.IntN(21))
}

func dialogue() string {
	a, b := pickL(names), pickL(names)
	lines := []string{
		fmt.Sprintf("\"Are you coming to %s on %s?\" asked %s.", pickL(topics), pickL(days), a),
		fmt.Sprintf("\"I think so,\" said %s. \"What time does it start?\"", b),
		fmt.Sprintf("\"At %d:%02d. Don't be late — we're meeting at the %s first.\"", 8+r.IntN(12), 15*r.IntN(4), pick("station", "café", "corner shop", "bus stop", "library")),
		fmt.Sprintf("\"I'll be there. Should I bring %s?\"", pick("anything", "snacks", "my umbrella", "the tickets", "a friend")),
		fmt.Sprintf("\"%s\"", pick("Yes, please!", "No need, thanks.", "Only if you want to.", "Maybe... let me check.", "Of course!")),
	}
	return strings.Join(lines, "\n")
}

func qa() string {
	x, y := r.IntN(100), r.IntN(100)
	switch r.IntN(4) {
	case 0:
		return fmt.Sprintf("Q: What is %d plus %d?\nA: %d plus %d is %d.", x, y, x, y, x+y)
	case 1:
		return fmt.Sprintf("Q: How many days are there in %d weeks?\nA: There are %d days in %d weeks.", x%9+1, 7*(x%9+1), x%9+1)
	case 2:
		an := pickL(animals)
		return fmt.Sprintf("Q: Where does the %s live?\nA: The %s lives in %s.", an, an, pickL(regions))
	default:
		return fmt.Sprintf("Q: Which month comes after %s?\nA: %s.", months[x%12], months[(x+1)%12])
	}
}

func fact() string {
	an := pickL(animals)
	return fmt.Sprintf("The %s is a %s animal found in %s. It eats mostly %s and can live for up to %d years. Adults weigh between %d and %d kg; a group of them is sometimes called a %s.",
		an, pick("small", "large", "shy", "social", "solitary", "fast"), pickL(regions), pickL(eats), 3+r.IntN(60), 1+r.IntN(20), 21+r.IntN(80), pick("family", "colony", "pod", "pack", "band"))
}

func note() string {
	a, b := pickL(names), pickL(names)
	return fmt.Sprintf("Dear %s,\n\nThank you for %s. I really enjoyed %s, and I hope we can do it again in %s. The photos are attached (%d files, about %.1f MB).\n\nBest wishes,\n%s",
		a, pick("the lovely dinner", "your kind letter", "helping with the move", "the book you sent", "a wonderful weekend"), pickL(topics), pickL(months), 2+r.IntN(20), 0.5+r.Float64()*20, b)
}

func schedule() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Schedule for %s:\n", pickL(days))
	h := 7 + r.IntN(3)
	for i := 0; i < 4+r.IntN(3); i++ {
		fmt.Fprintf(&b, "    %02d:%02d  %s\n", h, 15*r.IntN(4), pick("Breakfast", "Team meeting", "Call with "+pickL(names), "Lunch", "Review the report", "Walk in the park", "Piano lesson", "Dentist", "Buy groceries ($"+fmt.Sprintf("%d.%02d", 5+r.IntN(60), r.IntN(100))+")"))
		h += 1 + r.IntN(2)
	}
	b.WriteString("Notes: " + pick("bring the blue folder", "call back before 5 p.m.", "tickets cost €12.50 each", "room 204, second floor", "remember: 3 × 4 = 12, not 7!"))
	return b.String()
}

func misc() string {
	return pick(
		"The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!",
		"In 1969, people walked on the Moon for the first time; by 2020, more than 500 people had travelled to space.",
		"A naïve question is still a good question. Her résumé listed three languages — English, French and Spanish.",
		"Numbers such as 3.14159, 2,718 and 1,000,000 appear in many books… and sometimes in songs.",
		"Use the key-value pairs (name=value) & check the results: 42% passed, 58% failed.",
		"\"Slow and steady wins the race,\" the tortoise said. The hare didn't listen.",
		"It was raining again. The streets were empty, the lamps were lit, and somewhere a dog was barking.",
		"Tip: save your work often! Press Ctrl+S, or use File > Save.",
		"The train leaves at 6:45 a.m. from platform 9; the journey takes 2 hours and 17 minutes.",
		"She counted: one, two, three, four, five... and then she lost track.",
	)
}

func main() {
	gens := []func() string{story, story, recipe, weather, dialogue, qa, qa, fact, note, schedule, misc}
	var b strings.Builder
	for b.Len() < 48000 {
		b.WriteString(gens[r.IntN(len(gens))]())
		b.WriteString("\n\n")
	}
	if err := os.WriteFile("corpus.txt", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
