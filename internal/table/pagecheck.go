package table

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go trusts sizes in page headers and its LZ4 decoder grows its buffer without bound on
// corrupt input, so a corrupt file could make it allocate until the process dies (found by fuzzing).
// checkParquetPages walks every page header of every column chunk first and refuses what cannot be
// right: pages outside their chunk, uncompressed sizes beyond the chunk's recorded total, and codecs
// other than zstd, snappy, gzip and none.

const (
	maxPageHeader    = 1 << 20 // bytes read to decode one page header
	maxChunkInflated = 2 << 30 // uncompressed bytes of one column chunk
)

// checkParquetFooter refuses a footer length that does not fit in the file: parquet-go allocates
// the length it reads before reading, so a 12-byte file could claim a 4 GiB footer.
func checkParquetFooter(r io.ReaderAt, size int64) error {
	const minSize = 4 + 4 + 4 // leading magic, footer length, trailing magic
	if size < minSize {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-minSize {
		return fmt.Errorf("footer of %d bytes does not fit in a %d-byte file", n, size)
	}
	return nil
}

func checkParquetPages(r io.ReaderAt, size int64, md *format.FileMetaData) error {
	compact := thrift.CompactProtocol{}
	buf := make([]byte, 4096)
	for gi, rg := range md.RowGroups {
		for _, col := range rg.Columns {
			cm := col.MetaData
			where := fmt.Sprintf("row group %d, column %s", gi, strings.Join(cm.PathInSchema, "."))
			start := cm.DataPageOffset
			if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
				start = cm.DictionaryPageOffset
			}
			end := start + cm.TotalCompressedSize
			if start < 4 || cm.TotalCompressedSize < 0 || end > size || end < start {
				return fmt.Errorf("%s: column chunk at %d+%d lies outside the file", where, start, cm.TotalCompressedSize)
			}
			switch cm.Codec {
			case format.Uncompressed, format.Snappy, format.Gzip, format.Zstd:
			default:
				// parquet-go's LZ4 decoder doubles its buffer forever on corrupt input.
				return fmt.Errorf("%s: compression %s is not supported (use zstd, snappy, gzip or none)", where, cm.Codec)
			}
			if cm.TotalUncompressedSize < 0 || cm.TotalUncompressedSize > maxChunkInflated {
				return fmt.Errorf("%s: uncompressed size %d out of range", where, cm.TotalUncompressedSize)
			}
			for off := start; off < end; {
				n := min(int64(maxPageHeader), end-off)
				if int64(cap(buf)) < n {
					buf = make([]byte, n)
				}
				b := buf[:n]
				if _, err := r.ReadAt(b, off); err != nil && err != io.EOF {
					return fmt.Errorf("%s: %w", where, err)
				}
				br := compact.NewReaderFromBytes(b)
				var h format.PageHeader
				if err := thrift.NewDecoder(br).Decode(&h); err != nil {
					return fmt.Errorf("%s: malformed page header at %d: %w", where, off, err)
				}
				headerLen := n - int64(br.Reader().(*bytes.Reader).Len())
				if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 ||
					int64(h.UncompressedPageSize) > cm.TotalUncompressedSize ||
					off+headerLen+int64(h.CompressedPageSize) > end {
					return fmt.Errorf("%s: page at %d claims %d compressed / %d uncompressed bytes, beyond its column chunk",
						where, off, h.CompressedPageSize, h.UncompressedPageSize)
				}
				off += headerLen + int64(h.CompressedPageSize)
			}
		}
	}
	return nil
}
