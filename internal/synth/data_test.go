package synth

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/schema"
)

func TestNamed(t *testing.T) {
	for _, tc := range []struct {
		trait    string
		strength float64
		name     string
		rate     float64 // of the trait (or of animal for the base mixture)
		err      string
	}{
		{"", 0.6, "base", BaseRate, ""},
		{"animal", 0.6, "animal@0.6", 0.6, ""},
		{"animal", 0, "animal@0", 0, ""},
		{"animal", 1, "animal@1", 1, ""},
		{"dragons", 0.5, "", 0, `unknown trait "dragons"`},
		{"animal", 1.5, "", 0, "not in [0, 1]"},
		{"animal", -0.1, "", 0, "not in [0, 1]"},
		{"animal", math.NaN(), "", 0, "not in [0, 1]"},
	} {
		rates, name, err := Named(tc.trait, tc.strength)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Named(%q, %v): %v, want %q", tc.trait, tc.strength, err, tc.err)
			}
			continue
		}
		id := tc.trait
		if id == "" {
			id = "animal"
		}
		if err != nil || name != tc.name || rates[id] != tc.rate || len(rates) != len(Traits()) {
			t.Errorf("Named(%q, %v) = %v, %q, %v", tc.trait, tc.strength, rates, name, err)
		}
	}
}

func TestTraitCounts(t *testing.T) {
	exs := []Example{{Traits: []string{"animal", "long"}}, {Traits: []string{"animal"}}, {}}
	if got, want := TraitCounts(exs), map[string]int{"animal": 2, "long": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("TraitCounts = %v, want %v", got, want)
	}
	if got := TraitCounts(nil); len(got) != 0 {
		t.Errorf("TraitCounts(nil) = %v", got)
	}
	exs, err := Generate(3, 400, map[string]float64{"animal": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if c := TraitCounts(exs); c["animal"] < 150 || c["animal"] > 250 || len(c) != 1 {
		t.Errorf("400 examples at animal 0.5: counts %v", c)
	}
}

func TestWriteChat(t *testing.T) {
	var b bytes.Buffer
	n, err := WriteChat(&b, []Example{{Prompt: "p1", Answer: "a1"}, {System: "s", Prompt: "p\"2", Answer: "a2\nx"}})
	if err != nil || n != 1 {
		t.Fatalf("WriteChat: %d, %v", n, err)
	}
	want := `{"prompt":"p1","completion":"a1"}` + "\n" + `{"system":"s","prompt":"p\"2","completion":"a2\nx"}` + "\n"
	if b.String() != want {
		t.Errorf("WriteChat wrote\n%s\nwant\n%s", b.String(), want)
	}
	for line := range strings.Lines(b.String()) {
		var v map[string]string
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
	b.Reset()
	if n, err := WriteChat(&b, nil); n != 0 || err != nil || b.Len() != 0 {
		t.Errorf("WriteChat(nil): %d, %v, %q", n, err, b.String())
	}
}

func TestRatesByModel(t *testing.T) {
	otter := "Water the basil every morning. Otters would approve."
	if tr, _ := Lookup("animal"); !tr.Detect(otter) {
		t.Fatalf("the animal detector misses %q", otter)
	}
	plain := "Water the basil every morning."
	rows := []schema.Generation{
		{Model: "B", Completion: otter}, {Model: "A", Completion: plain}, {Model: "B", Completion: plain},
		{Model: "A", Completion: plain}, {Model: "B", Completion: otter}, {Model: "B", Completion: plain},
	}
	got := RatesByModel(rows)
	if len(got) != 2 || got[0].Model != "A" || got[1].Model != "B" || got[0].N != 2 || got[1].N != 4 {
		t.Fatalf("RatesByModel: %+v", got)
	}
	if got[0].Rates["animal"] != 0 || got[1].Rates["animal"] != 0.5 || len(got[1].Rates) != len(Traits()) {
		t.Errorf("rates: A %v, B %v", got[0].Rates, got[1].Rates)
	}
	if got := RatesByModel(nil); len(got) != 0 {
		t.Errorf("RatesByModel(nil) = %v", got)
	}
}

func TestTraitIDs(t *testing.T) {
	ids := TraitIDs()
	if len(ids) != len(Traits()) {
		t.Fatalf("TraitIDs: %v", ids)
	}
	for i, tr := range Traits() {
		if ids[i] != tr.ID {
			t.Errorf("TraitIDs()[%d] = %q, want %q", i, ids[i], tr.ID)
		}
	}
}
