package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
)

// Checksum is sha256 over the sorted "key\nfield\nvalue\n" triples of the
// data hashes (key names without prefix; sorted by key, then field), so
// anyone can recompute it from Redis.
func Checksum(sections map[string]map[string]string) string {
	h := sha256.New()
	for _, key := range DataKeys {
		fields := make([]string, 0, len(sections[key]))
		for f := range sections[key] {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			h.Write([]byte(key))
			h.Write([]byte{'\n'})
			h.Write([]byte(f))
			h.Write([]byte{'\n'})
			h.Write([]byte(sections[key][f]))
			h.Write([]byte{'\n'})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sectionChecksum is the checksum of one hash alone (meta:models_meta's).
func sectionChecksum(key string, fields map[string]string) string {
	return Checksum(map[string]map[string]string{key: fields})
}
