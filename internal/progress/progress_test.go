package progress

import (
	"bytes"
	"testing"
)

func TestNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "x", "rows", 10)
	if b != nil {
		t.Fatal("a bar on a buffer")
	}
	b.Add(3) // a nil bar does nothing
	b.SetStatus("loss 1")
	b.Done()
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}

func TestDraw(t *testing.T) {
	var buf bytes.Buffer
	b := &Bar{w: &buf, label: "train", unit: "steps", total: 4}
	b.SetStatus("loss 2.500")
	b.n = 2
	b.draw(false)
	b.Done()
	out := buf.String()
	for _, want := range []string{"train [============            ] 2/4 steps", "| loss 2.500", "\n"} {
		if !bytes.Contains([]byte(out), []byte(want)) {
			t.Errorf("%q lacks %q", out, want)
		}
	}
}
