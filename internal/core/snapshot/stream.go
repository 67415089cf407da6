package snapshot

import (
	"context"
	"strconv"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// DefaultChunk is how many keys or bindings a streaming build reads from
// the database at a time, and how many fields a reconcile scans per HSCAN.
const DefaultChunk = 5000

func (p *Publisher) chunk() int {
	if p.opts.Chunk > 0 {
		return p.opts.Chunk
	}
	return DefaultChunk
}

// stagedKeys are the hashes a build of the data hashes in sections writes:
// each data hash, its index hash, and meta:models_meta with meta:models.
func stagedKeys(sections []string) []string {
	var out []string
	for _, k := range sections {
		out = append(out, k)
		if idx, ok := indexOf[k]; ok {
			out = append(out, idx)
		}
		if k == KeyModels {
			out = append(out, KeyModelsMeta)
		}
	}
	return out
}

// streamBuild builds the data hashes named in sections (with their index
// hashes) from one database view straight into stage, computing their
// checksums and counts on the fly. It holds what the values need as a
// whole (providers, masters, models, route groups, features: O(providers
// + masters + models)); keys and bindings go through chunk by chunk, so
// memory does not grow with them. The result is the state's summary
// (no values): Sums and Counts of the built sections, faults, time changes.
// Values are exactly those of Build.
func (p *Publisher) streamBuild(ctx context.Context, st ports.SnapshotStream, stage ports.SnapshotStaging,
	sections []string, now time.Time) (*State, error) {
	want := map[string]bool{}
	for _, k := range sections {
		want[k] = true
	}
	s := &State{Version: st.Version(), ClockFrom: now, sums: Sums{}, counts: map[string]int{}}
	for _, k := range sections {
		s.sums[k], s.counts[k] = Sum{}, 0
	}
	put := func(key, field, value string) error {
		if err := stage.Put(ctx, key, field, value); err != nil {
			return err
		}
		if _, data := s.sums[key]; data {
			s.sums[key] = s.sums[key].Add(EntryDigest(key, field, value))
			s.counts[key]++
		}
		return nil
	}

	refs := map[string][]domain.ProviderRef{}
	if want[KeyProviders] || want[KeyBindings] {
		provs, cts, err := st.Providers(ctx)
		if err != nil {
			return nil, err
		}
		for _, pv := range provs {
			field := strconv.FormatInt(pv.ID, 10)
			key, fault := p.providerSecret(pv.ID, cts[pv.ID])
			if fault != "" {
				s.Faults = append(s.Faults, domain.SnapshotFault{Resource: KeyProviders, Field: field, Reason: fault})
			}
			if want[KeyProviders] {
				if err := put(KeyProviders, field, providerJSON(pv, key, fault)); err != nil {
					return nil, err
				}
			}
			if pv.Status == domain.ProviderActive && fault == "" {
				refs[pv.Group] = append(refs[pv.Group], domain.ProviderRef{ID: pv.ID, Models: pv.Models})
			}
		}
	}

	if want[KeyMasters] || want[KeyAuthKeys] {
		ms, err := st.Masters(ctx)
		if err != nil {
			return nil, err
		}
		masters := make(map[int64]domain.Master, len(ms))
		for _, m := range ms {
			masters[m.ID] = m
			if want[KeyMasters] {
				if err := put(KeyMasters, strconv.FormatInt(m.ID, 10), masterJSON(m)); err != nil {
					return nil, err
				}
			}
		}
		if want[KeyAuthKeys] {
			err := st.Keys(ctx, p.chunk(), func(ks []domain.Key) error {
				for _, k := range ks {
					entries := keyEntries(k, masters[k.MasterID], now)
					for f, v := range entries {
						if err := put(KeyAuthKeys, f, v); err != nil {
							return err
						}
					}
					if len(entries) > 0 {
						if err := put(indexOf[KeyAuthKeys], strconv.FormatInt(k.ID, 10), joinFields(entries)); err != nil {
							return err
						}
					}
					if until := k.GraceUntil(now); until != nil {
						s.noteTimeChange(*until)
					}
					if k.Status == domain.KeyActive && k.ExpiresAt != nil && now.Before(*k.ExpiresAt) {
						s.noteTimeChange(*k.ExpiresAt)
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}

	if want[KeyModels] {
		ms, err := st.Models(ctx)
		if err != nil {
			return nil, err
		}
		// meta:models_meta's checksum is over the whole sorted hash; the
		// catalogue is small (O(models)).
		models := make(map[string]string, len(ms))
		for _, m := range ms {
			v := modelJSON(m)
			models[m.Key()] = v
			if err := put(KeyModels, m.Key(), v); err != nil {
				return nil, err
			}
			if err := put(indexOf[KeyModels], strconv.FormatInt(m.ID, 10), m.Key()); err != nil {
				return nil, err
			}
		}
		s.modelsChecksum = ModelsChecksum(models)
		for f, v := range s.ModelsMeta(now) {
			if err := stage.Put(ctx, KeyModelsMeta, f, v); err != nil {
				return nil, err
			}
		}
	}

	if want[KeyBindings] {
		groupIDs, err := st.GroupIDs(ctx)
		if err != nil {
			return nil, err
		}
		index, rs, res := indexes(refs), &resolved{}, p.resolver()
		err = st.Bindings(ctx, p.chunk(), func(bs []domain.Binding) error {
			for _, b := range bs {
				// As Build resolves a binding: within the budget.
				resolved := res.binding(b, index, groupIDs, rs)
				if err := put(KeyBindings, b.Key(), bindingJSON(b, resolved)); err != nil {
					return err
				}
				if err := put(indexOf[KeyBindings], strconv.FormatInt(b.ID, 10), b.Key()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.Faults = append(s.Faults, rs.faults...)
		s.budgetExceeded = len(rs.faults)
		s.Resolutions = rs.resolutions
		for i := range s.Resolutions {
			s.Resolutions[i].Version = s.Version
		}
	}

	if want[KeyFeatures] {
		fs, err := st.Features(ctx)
		if err != nil {
			return nil, err
		}
		for name, v := range fs {
			if err := put(KeyFeatures, name, v); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}
