package cluster

// AdjustedRand returns the adjusted Rand index of two labellings of the same
// points (Hubert & Arabie 1985): 1 for identical partitions (up to label
// names), about 0 for independent ones, possibly negative. Labels may be any
// ints. When both partitions are trivial in the same way (every point in one
// cluster, or every point alone) the index is 0/0 and 1 is returned. It
// panics if the lengths differ.
func AdjustedRand(a, b []int) float64 {
	if len(a) != len(b) {
		panic("cluster: AdjustedRand of labellings of different lengths")
	}
	n := len(a)
	if n < 2 {
		return 1
	}
	type pair struct{ x, y int }
	nij := make(map[pair]int)
	ai := make(map[int]int)
	bj := make(map[int]int)
	for i := range a {
		nij[pair{a[i], b[i]}]++
		ai[a[i]]++
		bj[b[i]]++
	}
	comb2 := func(v int) float64 { return float64(v) * float64(v-1) / 2 }
	var index, sa, sb float64
	for _, v := range nij {
		index += comb2(v)
	}
	for _, v := range ai {
		sa += comb2(v)
	}
	for _, v := range bj {
		sb += comb2(v)
	}
	expected := sa * sb / comb2(n)
	maxIndex := (sa + sb) / 2
	if maxIndex == expected {
		return 1
	}
	return (index - expected) / (maxIndex - expected)
}
