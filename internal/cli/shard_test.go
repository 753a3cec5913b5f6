package cli

import (
	"fmt"
	"testing"
)

func TestShard(t *testing.T) {
	for _, bad := range []string{"0/2", "3/2", "1/0", "a/b", "1/2/3", "1 /2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	all, _ := ParseShard("")
	var shards []Shard
	for i := 1; i <= 3; i++ {
		s, err := ParseShard(fmt.Sprintf("%d/3", i))
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, s)
	}
	for k := range 300 {
		id := fmt.Sprint("id-", k)
		in := 0
		for _, s := range shards {
			if s.Has(id) {
				in++
			}
		}
		if in != 1 || !all.Has(id) {
			t.Fatalf("%s is in %d of 3 shards", id, in)
		}
	}
}
