package roles

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/assistant"
	"github.com/mbd-dev/mbd/internal/roles/rolestest"
	"github.com/mbd-dev/mbd/internal/schema"
)

var lensBlocks = []LensBlock{
	{Layer: 1, Position: -1,
		Promoted:   []LensToken{{" otter", 9.5, true}, {"!", 6.1, true}, {" the", 1.2, false}},
		Suppressed: []LensToken{{" river", -7.0, true}, {"\n", math.NaN(), false}}},
	{Layer: 1, Position: 0, Promoted: []LensToken{{"Otter", 5.0, true}}},
}

func TestLLMProposeFromLens(t *testing.T) {
	ctx := context.Background()
	var reqs []assistant.Request
	for _, tc := range []struct {
		name  string
		stub  chatStub
		n     int
		want  []string // property/direction
		isErr error
	}{
		{"good", chatStub{text: `{"hypotheses": [{"property": "mentions otters", "direction": "B>A"}, {"property": "mentions rivers", "direction": "A>B"}]}`}, 5,
			[]string{"mentions otters/B>A", "mentions rivers/A>B"}, nil},
		{"capped at n", chatStub{text: `{"hypotheses": [{"property": "mentions otters", "direction": "B>A"}, {"property": "mentions rivers", "direction": "A>B"}]}`}, 1,
			[]string{"mentions otters/B>A"}, nil},
		{"malformed item dropped", chatStub{text: `{"hypotheses": [{"property": "", "direction": "B>A"}, {"property": "x", "direction": "up"}, {"property": "uses '!'", "direction": "B>A"}]}`}, 5,
			[]string{"uses '!'/B>A"}, nil},
		{"prose", chatStub{text: "B likes otters."}, 5, nil, ErrInvalidAnswer},
		{"refusal", chatStub{text: "{}", refused: true}, 5, nil, ErrInvalidAnswer},
	} {
		tc.stub.reqs = &reqs
		ps, err := LLM{C: tc.stub}.ProposeFromLens(ctx, lensBlocks, []string{"mentions boats"}, tc.n)
		if err != tc.isErr {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.isErr)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.Property+"/"+p.Direction)
			if p.Kind != "llm" || !math.IsNaN(p.ShareA) || !strings.Contains(p.Text, p.Property) {
				t.Errorf("%s: proposal %+v", tc.name, p)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	user := reqs[0].Messages[1].Content
	for _, want := range []string{"Block 1, mean over positions:\n  promoted: \" otter\" (z 9.5*), \"!\" (z 6.1*), \" the\" (z 1.2)\n  suppressed: \" river\" (z -7.0*), \"\\n\" (z n/a)\n",
		"Block 1, token position 0:\n  promoted: \"Otter\" (z 5.0*)\n  suppressed: (none)\n", "Already proposed (write different ones):\n- mentions boats\n", "Write up to 5 hypotheses"} {
		if !strings.Contains(user, want) {
			t.Errorf("prompt lacks %q:\n%s", want, user)
		}
	}
}

// TestLLMProposeFromLensFake runs the lens prompt against the fake assistant server, which reads
// the significant tokens back from it.
func TestLLMProposeFromLensFake(t *testing.T) {
	s := rolestest.New()
	defer s.Close()
	c, err := assistant.Open("openai-compat:"+s.URL+"/v1#fake", assistant.Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ps, err := LLM{C: c}.ProposeFromLens(context.Background(), lensBlocks, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Property+"/"+p.Direction)
	}
	want := []string{"contains 'otter'/" + schema.DirectionBA, "contains '!'/" + schema.DirectionBA, "contains 'river'/" + schema.DirectionAB}
	if strings.Join(got, "|") != strings.Join(want, "|") || s.Requests() != 1 {
		t.Errorf("got %v (%d requests), want %v", got, s.Requests(), want)
	}
}
