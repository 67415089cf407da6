package snapshot

import (
	"strconv"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// State is what Redis should hold. A freshly built state has every value
// (Sections, Index); the publisher keeps only its summary (version, sums,
// counts, models checksum, faults, next time change) between deltas, so its
// memory does not grow with the configuration.
type State struct {
	Version  int64
	Sections map[string]map[string]string
	// Index maps, per IndexKeys hash, an entity id to its fields in the data
	// hash (a key's token hashes, a model's or binding's key), so a delta
	// can delete the fields an entity had without a mirror of every value.
	Index map[string]map[string]string
	// NextTimeChange is when the snapshot changes by the clock alone (zero:
	// never): the end of a rotation's grace period, or a key's expiry.
	NextTimeChange time.Time
	// ClockFrom is the moment up to which clock-driven changes (expiries,
	// ends of grace periods) are reflected: the time of the last full build
	// or of the last delta that processed a clock change.
	ClockFrom time.Time
	// Faults are the entries published fail-closed.
	Faults []domain.SnapshotFault
	// Resolutions are the binding resolutions computed for this state, to
	// store once Redis has them (dropped by compact).
	Resolutions []domain.BindingResolution

	// sums and modelsChecksum are computed on first use, or carried over
	// from the previous state and updated per changed entry by the
	// publisher (withDelta), so a delta does not re-hash everything.
	sums           Sums
	modelsChecksum string
	counts         map[string]int
	budgetExceeded int
}

// compact drops the values and keeps the summary the publisher needs.
func (s *State) compact() {
	s.Sums()
	s.ModelsChecksum()
	s.counts = s.Counts()
	s.Sections, s.Index, s.Resolutions = nil, nil, nil
}

// Sums are the per-section checksums of the state.
func (s *State) Sums() Sums {
	if s.sums == nil {
		s.sums = SumsOf(s.Sections)
	}
	return s.sums
}

// ModelsChecksum is meta:models_meta.checksum of the state.
func (s *State) ModelsChecksum() string {
	if s.modelsChecksum == "" {
		s.modelsChecksum = ModelsChecksum(s.Sections[KeyModels])
	}
	return s.modelsChecksum
}

func newState() *State {
	s := &State{Sections: map[string]map[string]string{}, Index: map[string]map[string]string{}}
	for _, k := range DataKeys {
		s.Sections[k] = map[string]string{}
	}
	for _, k := range IndexKeys {
		s.Index[k] = map[string]string{}
	}
	return s
}

func (s *State) noteTimeChange(t time.Time) {
	if s.NextTimeChange.IsZero() || t.Before(s.NextTimeChange) {
		s.NextTimeChange = t
	}
}

// Counts is the number of fields per data hash.
func (s *State) Counts() map[string]int {
	out := make(map[string]int, len(DataKeys))
	if s.counts != nil {
		for k, n := range s.counts {
			out[k] = n
		}
		return out
	}
	for _, k := range DataKeys {
		out[k] = len(s.Sections[k])
	}
	return out
}

// Checksum is the state's checksum.
func (s *State) Checksum() string { return s.Sums().Total().String() }

// Meta is meta:snapshot for the state at time now.
func (s *State) Meta(now time.Time) ports.SnapshotMeta {
	sums := s.Sums()
	return ports.SnapshotMeta{Version: s.Version, Checksum: sums.Total().String(), UpdatedAt: now,
		Counts: s.Counts(), Checksums: sums.Strings()}
}

// ModelsMeta is the meta:models_meta hash for the state.
func (s *State) ModelsMeta(now time.Time) map[string]string {
	return map[string]string{
		"version":      strconv.FormatInt(s.Version, 10),
		"updated_at":   strconv.FormatInt(now.Unix(), 10),
		"source":       "ezapi",
		"checksum":     s.ModelsChecksum(),
		"upstream_url": "",
		"upstream_ref": "",
	}
}

// Decrypter turns a provider's stored key ciphertext into the plaintext the
// balancer needs.
type Decrypter func(providerID int64, ciphertext []byte) (string, error)

// Build computes the whole snapshot from data in memory, resolving bindings
// without a time budget. The publisher never calls it (it streams, see
// streamBuild); it is the from-scratch reference the property, golden and
// streaming tests compare Redis with, so its values must stay exactly the
// published ones.
func Build(data ports.SnapshotData, decrypt Decrypter, now time.Time) (*State, error) {
	return BuildWithin(data, decrypt, now, Resolver{})
}

// BuildWithin computes the whole snapshot from data; each binding resolves
// within res's budget, and one that exceeds it is published fail-closed.
func BuildWithin(data ports.SnapshotData, decrypt Decrypter, now time.Time, res Resolver) (*State, error) {
	s := newState()
	s.Version, s.ClockFrom = data.Version, now
	refs := map[string][]domain.ProviderRef{}
	for _, p := range data.Providers {
		key, fault := "", ""
		field := strconv.FormatInt(p.ID, 10)
		if ct, ok := data.Ciphertexts[p.ID]; ok && len(ct) > 0 {
			var err error
			if key, err = decrypt(p.ID, ct); err != nil {
				// One bad row never stops publishing: this provider goes
				// out fail-closed and is reported.
				fault = FaultSecretUndecryptable
				s.Faults = append(s.Faults, domain.SnapshotFault{Resource: KeyProviders, Field: field, Reason: fault})
			}
		}
		s.Sections[KeyProviders][field] = providerJSON(p, key, fault)
		if p.Status == domain.ProviderActive && fault == "" {
			refs[p.Group] = append(refs[p.Group], domain.ProviderRef{ID: p.ID, Models: p.Models})
		}
	}
	masters := make(map[int64]domain.Master, len(data.Masters))
	for _, m := range data.Masters {
		masters[m.ID] = m
		s.Sections[KeyMasters][strconv.FormatInt(m.ID, 10)] = masterJSON(m)
	}
	for _, k := range data.Keys {
		entries := keyEntries(k, masters[k.MasterID], now)
		for f, v := range entries {
			s.Sections[KeyAuthKeys][f] = v
		}
		if len(entries) > 0 {
			s.Index[IndexKeys[0]][strconv.FormatInt(k.ID, 10)] = joinFields(entries)
		}
		if until := k.GraceUntil(now); until != nil {
			s.noteTimeChange(*until)
		}
		if k.Status == domain.KeyActive && k.ExpiresAt != nil && now.Before(*k.ExpiresAt) {
			s.noteTimeChange(*k.ExpiresAt)
		}
	}
	for _, m := range data.Models {
		s.Sections[KeyModels][m.Key()] = modelJSON(m)
		s.Index[indexOf[KeyModels]][strconv.FormatInt(m.ID, 10)] = m.Key()
	}
	index, rs := indexes(refs), &resolved{}
	for _, b := range data.Bindings {
		s.Sections[KeyBindings][b.Key()] = bindingJSON(b, res.binding(b, index, data.GroupIDs, rs))
		s.Index[indexOf[KeyBindings]][strconv.FormatInt(b.ID, 10)] = b.Key()
	}
	s.Faults = append(s.Faults, rs.faults...)
	s.budgetExceeded = len(rs.faults)
	s.Resolutions = rs.resolutions
	for i := range s.Resolutions {
		s.Resolutions[i].Version = s.Version
	}
	for name, v := range data.Features {
		s.Sections[KeyFeatures][name] = v
	}
	return s, nil
}

// Diff returns the ops that turn have into want, section by section.
func Diff(have, want map[string]map[string]string) []ports.SnapshotOp {
	return diffKeys(have, want, DataKeys)
}

func diffKeys(have, want map[string]map[string]string, keys []string) []ports.SnapshotOp {
	var ops []ports.SnapshotOp
	for _, key := range keys {
		for f, v := range want[key] {
			if have[key][f] != v {
				ops = append(ops, ports.SnapshotOp{Key: key, Field: f, Value: v})
			}
		}
		for f := range have[key] {
			if _, ok := want[key][f]; !ok {
				ops = append(ops, ports.SnapshotOp{Key: key, Field: f, Del: true})
			}
		}
	}
	return ops
}
