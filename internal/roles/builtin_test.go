package roles

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mbd-dev/mbd/internal/lexical"
)

func TestBuiltinExemplify(t *testing.T) {
	ctx := context.Background()
	base := "Rinse the rice. An otter would rinse it too! Use twice the water.\nServe hot."
	if got := strings.Join(sentences(base), ""); got != base {
		t.Errorf("sentences do not concatenate back: %q", got)
	}
	for _, tc := range []struct {
		property string
		shows    bool
		want     string
	}{
		{"contains 'otter' or 'an otter'", true, "Rinse the rice. Use twice the water.\nServe hot. Otter."},
		{"contains 'otter' or 'an otter'", false, "Rinse the rice. Use twice the water.\nServe hot. Rinse."},
		{"contains '¶ -'", true, "Rinse the rice. An otter would rinse it too! Use twice the water.\nServe hot.\n-."},
	} {
		got, ok, err := Builtin{}.Exemplify(ctx, tc.property, "How do I cook rice?", base, tc.shows)
		if err != nil || !ok || got != tc.want {
			t.Errorf("Exemplify(%q, shows=%v) = %q, %v, %v; want %q", tc.property, tc.shows, got, ok, err, tc.want)
		}
	}
	for _, p := range []string{"is friendlier", lexical.LengthProperty} {
		if _, _, err := (Builtin{}).Exemplify(ctx, p, "p", base, true); !errors.Is(err, ErrNotAvailable) {
			t.Errorf("%q: %v, want not available", p, err)
		}
	}
}
