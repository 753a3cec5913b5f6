package match

import (
	"maps"
	"slices"
	"testing"
)

func TestPaired(t *testing.T) {
	for _, tc := range []struct {
		name  string
		texts []Text
		want  []string // kept ids, sorted
		drop  Dropped
	}{
		{name: "empty"},
		{name: "all paired",
			texts: []Text{{"a1", "A", "p1"}, {"b1", "B", "p1"}, {"a2", "A", "p2"}, {"b2", "B", "p2"}},
			want:  []string{"a1", "a2", "b1", "b2"}},
		{name: "a prompt only B answered",
			texts: []Text{{"a1", "A", "p1"}, {"b1", "B", "p1"}, {"b2", "B", "p2"}, {"b3", "B", "p2"}},
			want:  []string{"a1", "b1"}, drop: Dropped{B: 2}},
		{name: "unpaired on both sides",
			texts: []Text{{"a1", "A", "p1"}, {"b2", "B", "p2"}, {"a3", "A", "p3"}, {"b3", "B", "p3"}},
			want:  []string{"a3", "b3"}, drop: Dropped{A: 1, B: 1}},
		{name: "several samples of a prompt answered by both",
			texts: []Text{{"a1", "A", "p1"}, {"a2", "A", "p1"}, {"b1", "B", "p1"}},
			want:  []string{"a1", "a2", "b1"}},
		{name: "another model is kept and pairs nothing",
			texts: []Text{{"a1", "A", "p1"}, {"c1", "C", "p1"}, {"c2", "C", "p2"}, {"b2", "B", "p2"}},
			want:  []string{"c1", "c2"}, drop: Dropped{A: 1, B: 1}},
		{name: "one model only",
			texts: []Text{{"a1", "A", "p1"}, {"a2", "A", "p2"}},
			drop:  Dropped{A: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, drop := Paired(tc.texts, "A", "B")
			got := slices.Sorted(maps.Keys(keep))
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			if drop != tc.drop {
				t.Errorf("dropped %+v, want %+v", drop, tc.drop)
			}
		})
	}
}
