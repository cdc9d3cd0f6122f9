// Package packed is the compressed form in which the store keeps its
// larger values (an event's payload, its decision record): raw DEFLATE
// behind a one-byte mark. A JSON payload of a kilobyte keeps about half
// its bytes, and neither SQLite nor PostgreSQL (whose TOAST starts at
// 2 KB) would compress it.
//
// A packed value starts with Mark, a byte no JSON text and no decision
// record starts with, so values written before packing existed (and
// values packing would not shrink, which are kept as they are) read back
// unchanged: Unpack returns anything without the mark as it is.
package packed

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Mark is the first byte of a packed value.
const Mark = 0x00

// MinSize is the smallest value Pack tries to shrink: below it the
// stream's own overhead eats most of the gain.
const MinSize = 128

// MaxUnpacked bounds what Unpack inflates a value to. Every value the
// store packs was limited at the door far below it (an event's body is
// at most 1 MiB); the bound only stops a corrupt value from growing
// without end.
const MaxUnpacked = 16 << 20

// ErrCorrupt: a value carries the mark but is not a valid stream.
var ErrCorrupt = errors.New("packed: corrupt value")

// Writers are kept on a free list rather than a sync.Pool: a
// flate.Writer is about 600 KB, and a pool that every garbage collection
// empties would allocate them again and again under load. Readers are
// small; a pool will do.
var (
	writers = make(chan *flate.Writer, 16)
	readers = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
)

func getWriter() *flate.Writer {
	select {
	case w := <-writers:
		return w
	default:
		w, err := flate.NewWriter(nil, flate.BestSpeed)
		if err != nil {
			panic(err) // only for an invalid level
		}
		return w
	}
}

func putWriter(w *flate.Writer) {
	select {
	case writers <- w:
	default: // enough kept
	}
}

// Pack returns v packed, or v itself when it is short or packing would
// not make it smaller — unless v starts with Mark, which only a packed
// value may (no payload or record does, but Pack holds for any bytes).
func Pack(v []byte) []byte {
	keep := !IsPacked(v)
	if keep && len(v) < MinSize {
		return v
	}
	var buf bytes.Buffer
	buf.Grow(len(v)/2 + 16)
	buf.WriteByte(Mark)
	w := getWriter()
	defer putWriter(w)
	w.Reset(&buf)
	// Writes to a bytes.Buffer do not fail.
	_, _ = w.Write(v)
	_ = w.Close()
	if keep && buf.Len() >= len(v) {
		return v
	}
	return buf.Bytes()
}

// Unpack returns the value v was packed from, or v itself when it is not
// packed.
func Unpack(v []byte) ([]byte, error) {
	if !IsPacked(v) {
		return v, nil
	}
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(v[1:]), nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var out bytes.Buffer
	out.Grow(3 * len(v))
	n, err := io.Copy(&out, io.LimitReader(r, MaxUnpacked+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if n > MaxUnpacked {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, MaxUnpacked)
	}
	return out.Bytes(), nil
}

// IsPacked reports whether v is a packed value.
func IsPacked(v []byte) bool { return len(v) > 0 && v[0] == Mark }
