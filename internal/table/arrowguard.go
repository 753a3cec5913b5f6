package table

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// arrow-go sizes slices from the vector lengths in an IPC schema message without checking them
// against the message's size, so a corrupt length makes it allocate without bound and crash the
// process (found by FuzzReadStdin). checkArrowSchema walks the schema message first, by the layout of
// Arrow's Schema.fbs / Message.fbs, and refuses vectors that cannot fit in the message.

const (
	maxSchemaMessage = 1 << 20 // bytes of flatbuffer metadata in the first (schema) message
	maxSchemaDepth   = 64      // nesting of fields
	arrowTypeUnion   = 14      // Type.Union in Schema.fbs
)

// checkArrowSchema peeks at the first message of an Arrow IPC stream and checks it.
func checkArrowSchema(br *bufio.Reader) error {
	head, err := br.Peek(8)
	if err != nil {
		return errors.New("truncated stream header")
	}
	if binary.LittleEndian.Uint32(head) != 0xffffffff {
		return errors.New("no continuation marker (pre-0.15 Arrow streams are not supported)")
	}
	n := int(int32(binary.LittleEndian.Uint32(head[4:])))
	if n < 8 || n > maxSchemaMessage || n > br.Size()-8 {
		return fmt.Errorf("schema message length %d out of range", n)
	}
	msg, err := br.Peek(8 + n)
	if err != nil {
		return errors.New("truncated schema message")
	}
	return checkSchemaFlatbuffer(msg[8:])
}

func checkSchemaFlatbuffer(buf []byte) (err error) {
	defer func() {
		if p := recover(); p != nil { // an offset outside the buffer
			err = fmt.Errorf("malformed schema message: %v", p)
		}
	}()
	c := fbCheck{buf: buf}
	msg := flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}
	hdr, ok := c.table(&msg, 2) // Message.header
	if !ok {
		return nil // arrow-go reports the missing header
	}
	if err := c.fields(hdr, 1, 0); err != nil { // Schema.fields
		return err
	}
	return c.vector(hdr, 2, 4) // Schema.custom_metadata
}

type fbCheck struct{ buf []byte }

func vt(slot int) flatbuffers.VOffsetT { return flatbuffers.VOffsetT(4 + 2*slot) }

// table returns the sub-table in the given field slot.
func (c fbCheck) table(t *flatbuffers.Table, slot int) (*flatbuffers.Table, bool) {
	o := t.Offset(vt(slot))
	if o == 0 {
		return nil, false
	}
	return &flatbuffers.Table{Bytes: c.buf, Pos: t.Indirect(flatbuffers.UOffsetT(o) + t.Pos)}, true
}

// vector checks that the vector in the given slot, of elements of elemSize bytes, fits the buffer.
func (c fbCheck) vector(t *flatbuffers.Table, slot, elemSize int) error {
	o := t.Offset(vt(slot))
	if o == 0 {
		return nil
	}
	n := t.VectorLen(flatbuffers.UOffsetT(o))
	start := int(t.Vector(flatbuffers.UOffsetT(o)))
	if n < 0 || n > (len(c.buf)-start)/elemSize {
		return fmt.Errorf("malformed schema message: vector of %d elements in a %d-byte message", n, len(c.buf))
	}
	return nil
}

// fields checks a vector of Field tables and, recursively, their children, metadata and union ids.
func (c fbCheck) fields(t *flatbuffers.Table, slot, depth int) error {
	if depth > maxSchemaDepth {
		return errors.New("malformed schema message: fields nested too deep")
	}
	if err := c.vector(t, slot, 4); err != nil {
		return err
	}
	o := t.Offset(vt(slot))
	if o == 0 {
		return nil
	}
	n := t.VectorLen(flatbuffers.UOffsetT(o))
	start := t.Vector(flatbuffers.UOffsetT(o))
	for i := range n {
		pos := start + flatbuffers.UOffsetT(4*i)
		f := &flatbuffers.Table{Bytes: c.buf, Pos: pos + flatbuffers.GetUOffsetT(c.buf[pos:])}
		if err := c.fields(f, 5, depth+1); err != nil { // Field.children
			return err
		}
		if err := c.vector(f, 6, 4); err != nil { // Field.custom_metadata
			return err
		}
		if o := f.Offset(vt(2)); o != 0 && f.GetByte(flatbuffers.UOffsetT(o)+f.Pos) == arrowTypeUnion {
			if u, ok := c.table(f, 3); ok { // Field.type → Union
				if err := c.vector(u, 1, 4); err != nil { // Union.typeIds
					return err
				}
			}
		}
	}
	return nil
}
