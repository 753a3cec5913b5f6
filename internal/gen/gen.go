// Package gen makes generations tables: seeded completions of a prompts table by a model
// (Generate, resumable through a Journal), records made elsewhere (Importer) and the request and
// result files of the OpenAI Batch API (ExportRequests, ImportResults).
//
// A completion is identified by its model label, prompt id and sample index (GenerationID), and
// its seed is a hash of the base seed, the prompt id and the sample index (SampleSeed), so a
// completion is the same whatever the chunking, sharding or order of the run that made it.
// Generate works in chunks and appends each finished chunk to a journal whose identity is a hash
// of every parameter and of the content of every input (the prompts table and the model's files):
// a run that crashed continues where it stopped, and a journal of any other run is never reused.
package gen

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/mbd-dev/mbd/internal/llm"
	"github.com/mbd-dev/mbd/internal/schema"
)

// SplitAll selects the prompts of every split.
const SplitAll = "all"

// GenerationID is a generation's stable id.
func GenerationID(model, promptID string, sample int32) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", model, promptID, sample))
	return hex.EncodeToString(h[:8])
}

// SampleSeed is the seed of one completion: a hash of the base seed, the prompt id and the sample.
func SampleSeed(base uint64, promptID string, sample int32) uint64 {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, base)
	h.Write([]byte(promptID))
	binary.Write(h, binary.LittleEndian, sample)
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// Job is one completion to make.
type Job struct {
	Prompt schema.Prompt
	Sample int32
	Seed   uint64
	ID     string // GenerationID
}

// Select returns the prompts of split (SplitAll: every split) for which keep is true (nil keeps
// every prompt), in input order.
func Select(ps []schema.Prompt, split string, keep func(id string) bool) []schema.Prompt {
	var out []schema.Prompt
	for _, p := range ps {
		if (split == SplitAll || p.Split == split) && (keep == nil || keep(p.ID)) {
			out = append(out, p)
		}
	}
	return out
}

// Jobs lists the completions to make, samples per prompt, in prompt order.
func Jobs(ps []schema.Prompt, label string, samples int, seed uint64) []Job {
	jobs := make([]Job, 0, len(ps)*samples)
	for _, p := range ps {
		for s := range int32(samples) {
			jobs = append(jobs, Job{Prompt: p, Sample: s, Seed: SampleSeed(seed, p.ID, s), ID: GenerationID(label, p.ID, s)})
		}
	}
	return jobs
}

// Params are the settings of a generation run that decide its rows.
type Params struct {
	Label    string       `json:"label"`
	ModelRef string       `json:"model"`
	Sampling llm.Sampling `json:"sampling"`
	Samples  int          `json:"samples"`
	Seed     uint64       `json:"seed"`
	Split    string       `json:"split"`
	Shard    string       `json:"shard"` // "i/N", or "" for every prompt
	Chunk    int          `json:"chunk"` // completions per chunk
}
