package snapshot

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"sort"

	"github.com/ez-api/ez-api/internal/ports"
)

// Sum is a 256-bit unsigned integer: the snapshot checksum is the sum,
// modulo 2^256, of SHA-256(key ‖ 0x00 ‖ field ‖ 0x00 ‖ value) over every
// entry of the data hashes (key names without the configurable prefix, each
// digest read as a big-endian number). A sum does not depend on order, so
// it is updated per entry (add the new entry's digest, subtract the old
// one's) and recomputed by anyone from Redis in a few lines
// (docs/snapshot.md).
type Sum [4]uint64 // most significant word first

// EntryDigest is the digest of one hash entry as a Sum term.
func EntryDigest(key, field, value string) Sum {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(field))
	h.Write([]byte{0})
	h.Write([]byte(value))
	var b [32]byte
	h.Sum(b[:0])
	var s Sum
	for i := range s {
		s[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return s
}

// Add returns s + d modulo 2^256.
func (s Sum) Add(d Sum) Sum {
	var out Sum
	var carry uint64
	for i := 3; i >= 0; i-- {
		out[i], carry = bits.Add64(s[i], d[i], carry)
	}
	return out
}

// Sub returns s - d modulo 2^256.
func (s Sum) Sub(d Sum) Sum {
	var out Sum
	var borrow uint64
	for i := 3; i >= 0; i-- {
		out[i], borrow = bits.Sub64(s[i], d[i], borrow)
	}
	return out
}

// String is the sum as 64 lower-case hex digits.
func (s Sum) String() string {
	var b [32]byte
	for i, w := range s {
		binary.BigEndian.PutUint64(b[8*i:], w)
	}
	return hex.EncodeToString(b[:])
}

// SectionSum is the checksum of one data hash.
func SectionSum(key string, fields map[string]string) Sum {
	var s Sum
	for f, v := range fields {
		s = s.Add(EntryDigest(key, f, v))
	}
	return s
}

// Sums are the per-section checksums of a snapshot.
type Sums map[string]Sum

// SumsOf computes the per-section checksums from scratch.
func SumsOf(sections map[string]map[string]string) Sums {
	out := make(Sums, len(DataKeys))
	for _, k := range DataKeys {
		out[k] = SectionSum(k, sections[k])
	}
	return out
}

// Total is the snapshot checksum: the sum of the section sums.
func (s Sums) Total() Sum {
	var t Sum
	for _, k := range DataKeys {
		t = t.Add(s[k])
	}
	return t
}

// Strings are the section checksums as hex, by section key.
func (s Sums) Strings() map[string]string {
	out := make(map[string]string, len(s))
	for k, v := range s {
		out[k] = v.String()
	}
	return out
}

// Clone copies the sums.
func (s Sums) Clone() Sums {
	out := make(Sums, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

// Apply updates the sums for one change of an entry: old is the value it
// had (hadOld false: it did not exist), op the change.
func (s Sums) Apply(op ports.SnapshotOp, old string, hadOld bool) {
	cur := s[op.Key]
	if hadOld {
		cur = cur.Sub(EntryDigest(op.Key, op.Field, old))
	}
	if !op.Del {
		cur = cur.Add(EntryDigest(op.Key, op.Field, op.Value))
	}
	s[op.Key] = cur
}

// Checksum is the snapshot checksum of the data hashes, as hex.
func Checksum(sections map[string]map[string]string) string {
	return SumsOf(sections).Total().String()
}

// ModelsChecksum is meta:models_meta.checksum exactly as the original
// modelcap.ChecksumFromPayloads computes it: sha256 over the fields of
// meta:models sorted by field, each written as "field\nvalue\n" (no key
// name), as lower-case hex.
func ModelsChecksum(models map[string]string) string {
	fields := make([]string, 0, len(models))
	for f := range models {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{'\n'})
		h.Write([]byte(models[f]))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
