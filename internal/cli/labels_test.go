package cli

import (
	"strings"
	"testing"
)

func TestLabelsValidate(t *testing.T) {
	for _, tc := range []struct {
		l    Labels
		want string // "" = valid
	}{
		{Labels{}, ""},
		{Labels{A: "x", B: "y"}, ""},
		{Labels{A: "x"}, "--a x without --b: give --a and --b together"},
		{Labels{B: "y"}, "--b y without --a: give --a and --b together"},
		{Labels{A: "x", B: "x"}, `--a and --b are both "x"`},
	} {
		err := tc.l.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.l, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.l, err, tc.want)
		}
	}
}

func TestLabelsPick(t *testing.T) {
	present := map[string]bool{"m1": true, "m2": true}
	if a, b, err := (Labels{}).Pick(present, "t"); err != nil || a != "m1" || b != "m2" {
		t.Errorf("default: %s %s %v", a, b, err)
	}
	if a, b, err := (Labels{A: "m2", B: "m1"}).Pick(present, "t"); err != nil || a != "m2" || b != "m1" {
		t.Errorf("given: %s %s %v", a, b, err)
	}
	if _, _, err := (Labels{A: "m2", B: "zz"}).Pick(present, "t"); err == nil {
		t.Error("absent label: no error")
	}
	if _, _, err := (Labels{}).Pick(map[string]bool{"a": true, "b": true, "c": true}, "t"); err == nil {
		t.Error("three labels: no error")
	}
}
