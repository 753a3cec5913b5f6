package llamacpp

/*
#include <stdlib.h>
#include "helpers.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Steering: a control vector added to the residual stream. llama.cpp adds a per-block vector to
// the output of block N (before the graph tensor l_out-N, so a capture would see it) at every
// token (llama_apply_adapter_cvec, applied per context). It holds no vector for block 0, so the
// first block's output cannot be steered. The vector is applied to a fresh generation context
// before its first decode: llama.cpp reuses a compute graph when the context's adapters are the
// same object, which they are after a change of the steered blocks.

// Steering is a control vector: Vectors[i], of length Dim, is added to the output of block
// Layers[i] (0-based, at least 1) at every token.
type Steering struct {
	Layers  []int
	Vectors [][]float32
}

// CheckSteering refuses a control vector llama.cpp cannot apply or would apply wrongly.
func (m *Model) CheckSteering(s Steering) error {
	if m.model == nil {
		return errors.New("model is closed")
	}
	nl, dim := m.Layers(), m.Dim()
	if len(s.Layers) == 0 {
		return errors.New("steering: no layers")
	}
	if len(s.Vectors) != len(s.Layers) {
		return fmt.Errorf("steering: %d vectors for %d layers", len(s.Vectors), len(s.Layers))
	}
	seen := map[int]bool{}
	for i, l := range s.Layers {
		switch {
		case l == 0 && nl > 1:
			return fmt.Errorf("layer 0: llama.cpp cannot steer the first block's output; choose a block from 1 to %d", nl-1)
		case l == 0:
			return errors.New("layer 0: llama.cpp cannot steer the first block's output, and the model has no other")
		case l < 0 || l >= nl:
			return fmt.Errorf("layer %d: the model has %d layers (0 to %d)", l, nl, nl-1)
		case seen[l]:
			return fmt.Errorf("layer %d: given twice", l)
		}
		seen[l] = true
		if len(s.Vectors[i]) != dim {
			return fmt.Errorf("layer %d: a steering vector of %d values for a residual stream of width %d", l, len(s.Vectors[i]), dim)
		}
		for _, v := range s.Vectors[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("layer %d: the steering vector has a value that is not finite (%v)", l, v)
			}
		}
	}
	return nil
}

// SetSteering makes Generate and Score add the control vector s to the residual stream (nil
// clears it). The generation and scoring contexts are rebuilt on their next use; embeddings are
// not steered.
func (m *Model) SetSteering(s *Steering) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.model == nil {
		return errors.New("model is closed")
	}
	var cp *Steering
	if s != nil {
		if err := m.CheckSteering(*s); err != nil {
			return err
		}
		cp = &Steering{Layers: slices.Clone(s.Layers), Vectors: make([][]float32, len(s.Vectors))}
		for i, v := range s.Vectors {
			cp.Vectors[i] = slices.Clone(v)
		}
	}
	m.freeGen()
	m.steer = cp
	return nil
}

// applySteering applies m.steer to a new context c (nothing when it is nil).
func (m *Model) applySteering(c *C.struct_llama_context) error {
	s := m.steer
	if s == nil {
		return nil
	}
	nl, dim := m.Layers(), m.Dim()
	// The buffer holds blocks 1 to nl-1; blocks in range without a vector get zeros.
	buf := make([]float32, dim*(nl-1))
	lo, hi := nl, 0
	for i, l := range s.Layers {
		copy(buf[(l-1)*dim:l*dim], s.Vectors[i])
		lo, hi = min(lo, l), max(hi, l)
	}
	clearLogErrors()
	if C.llama_apply_adapter_cvec(c, (*C.float)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), C.int32_t(dim), C.int32_t(lo), C.int32_t(hi)) != 0 {
		return fmt.Errorf("%s: llama.cpp cannot apply the steering vector: %s", m.opts.Path, lastLogError())
	}
	return nil
}
