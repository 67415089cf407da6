package snapshot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// scanAttempts bounds how often a reconcile rescans a section that a delta
// changed during the scan before leaving it for the next reconcile.
const scanAttempts = 3

// dataKeyOf is the data hash an index hash belongs to.
var dataKeyOf = map[string]string{IndexKeys[0]: KeyAuthKeys, IndexKeys[1]: KeyModels, IndexKeys[2]: KeyBindings}

// sectionScan is what one HSCAN pass over a data hash (and its index hash)
// found.
type sectionScan struct {
	sum   Sum
	count int
	// link and indexLink are the same digest computed from the data hash
	// (each field with the id of the entity that publishes it) and from the
	// index hash (each id with the fields it lists): equal when the index
	// names exactly the fields the data hash holds, by the right entity.
	link, indexLink Sum
}

// keyID reads the id of an auth:keys value ({"id":N,...}), as published.
func keyID(v string) string {
	const pre = `{"id":`
	if !strings.HasPrefix(v, pre) {
		return ""
	}
	v = v[len(pre):]
	n := strings.IndexByte(v, ',')
	if n < 0 {
		return ""
	}
	return v[:n]
}

// scan streams one data hash and its index hash chunk by chunk (HSCAN
// COUNT chunk); memory is one chunk.
func (p *Publisher) scan(ctx context.Context, key string) (sectionScan, error) {
	var out sectionScan
	idx, indexed := indexOf[key]
	err := p.scanHash(ctx, key, func(f, v string) {
		out.sum = out.sum.Add(EntryDigest(key, f, v))
		out.count++
		if indexed {
			id := ""
			if key == KeyAuthKeys {
				id = keyID(v)
			}
			out.link = out.link.Add(EntryDigest(idx, id, f))
		}
	})
	if err != nil || !indexed {
		return out, err
	}
	err = p.scanHash(ctx, idx, func(id, fs string) {
		if key != KeyAuthKeys {
			// One field (a model or binding key, which may hold any
			// character); their JSON carries no id to compare.
			out.indexLink = out.indexLink.Add(EntryDigest(idx, "", fs))
			return
		}
		for _, f := range strings.Split(fs, ",") { // token hashes: hex
			out.indexLink = out.indexLink.Add(EntryDigest(idx, id, f))
		}
	})
	return out, err
}

func (p *Publisher) scanHash(ctx context.Context, key string, fn func(field, value string)) error {
	for cursor := uint64(0); ; {
		pairs, next, err := p.store.Scan(ctx, key, cursor, p.chunk())
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			fn(pairs[i], pairs[i+1])
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// drift names what of a section differs from the published summary: the
// data hash, its index hash, both or nothing.
func drift(key string, got sectionScan, sum Sum, count int) []string {
	var out []string
	if got.sum != sum || got.count != count {
		out = append(out, key)
	}
	if idx, ok := indexOf[key]; ok && got.link != got.indexLink {
		out = append(out, idx)
	}
	return out
}

// Reconcile streams every data hash (and the publisher's index hashes)
// from Redis with HSCAN, recomputes each section's checksum and compares
// it with the published one; it repairs only a drifted section, rebuilt
// from the database under a staging name and swapped in atomically. It
// does not hold the publisher's step while scanning: a section a delta
// changed during its scan is scanned again (up to scanAttempts times, then
// left for the next reconcile). A Redis whose meta:snapshot does not match
// the published state (flushed, overwritten) gets a full resync. The
// outcome is recorded for GET /sync/status. Only the leader reconciles.
func (p *Publisher) Reconcile(ctx context.Context) (domain.ReconcileResult, error) {
	res := domain.ReconcileResult{At: p.clock.Now()}
	err := p.reconcile(ctx, &res)
	if err != nil {
		res.Error = err.Error()
	}
	if !errors.Is(err, errNotLeader) {
		if rerr := p.state.RecordReconcile(ctx, res); rerr != nil && err == nil {
			err = rerr
		}
	}
	return res, err
}

var errNotLeader = errors.New("this replica does not publish")

func (p *Publisher) reconcile(ctx context.Context, res *domain.ReconcileResult) error {
	p.mu.Lock()
	if !p.leader || p.mirror == nil {
		p.mu.Unlock()
		return errNotLeader
	}
	version, checksum := p.mirror.Version, p.mirror.Checksum()
	meta, err := p.store.Meta(ctx)
	if err == nil && !metaMatches(meta, p.mirror, version, checksum) {
		// Redis lost or replaced meta:snapshot (a flush, another writer):
		// nothing in it can be trusted section by section.
		p.logger.Warn("redis snapshot meta drifted; full resync", "redis_version", meta.Version, "version", version)
		res.Drifted, res.Version = []string{KeySnapshot}, version
		if _, err = p.fullResync(ctx); err == nil {
			res.Repaired = append(append([]string{KeySnapshot}, DataKeys...), IndexKeys...)
			res.Version, res.Checksum = p.mirror.Version, p.mirror.Checksum()
			if p.metrics != nil {
				p.metrics.Repaired()
			}
		}
	}
	p.mu.Unlock()
	if err != nil || res.Drifted != nil {
		return err
	}

	res.Version = version
	var total Sum
	for _, key := range DataKeys {
		got, sum, ok, err := p.scanStable(ctx, key)
		if err != nil {
			return err
		}
		if !ok {
			res.Unchecked = append(res.Unchecked, key)
			continue
		}
		total = total.Add(got.sum)
		d := drift(key, got, sum.sum, sum.count)
		if len(d) == 0 {
			continue
		}
		p.logger.Warn("redis snapshot section drifted; repairing it", "section", key, "drifted", d)
		res.Drifted = append(res.Drifted, d...)
		repaired, err := p.repairSection(ctx, key)
		if err != nil {
			return err
		}
		if repaired {
			res.Repaired = append(res.Repaired, d...)
			if p.metrics != nil {
				p.metrics.Repaired()
			}
		}
	}
	if len(res.Unchecked) == 0 {
		res.Checksum = total.String() // else it would be a partial sum
	}
	res.Matched = len(res.Drifted) == 0 && len(res.Unchecked) == 0
	return nil
}

// metaMatches: meta:snapshot holds the published version, checksum and
// per-section checksums and counts.
func metaMatches(meta ports.SnapshotMeta, s *State, version int64, checksum string) bool {
	if meta.Version != version || meta.Checksum != checksum {
		return false
	}
	sums, counts := s.Sums(), s.Counts()
	for _, k := range DataKeys {
		if meta.Checksums[k] != sums[k].String() || meta.Counts[k] != counts[k] {
			return false
		}
	}
	return true
}

type published struct {
	sum   Sum
	count int
}

// scanStable scans a section while no delta changes it: it reads the
// section's generation before and after and rescans when it moved.
func (p *Publisher) scanStable(ctx context.Context, key string) (sectionScan, published, bool, error) {
	for range scanAttempts {
		p.mu.Lock()
		if p.mirror == nil {
			p.mu.Unlock()
			return sectionScan{}, published{}, false, errNotLeader
		}
		gen := p.gen[key]
		want := published{sum: p.mirror.Sums()[key], count: p.mirror.Counts()[key]}
		p.mu.Unlock()
		got, err := p.scan(ctx, key)
		if err != nil {
			return got, want, false, err
		}
		p.mu.Lock()
		moved := p.mirror == nil || p.gen[key] != gen
		p.mu.Unlock()
		if !moved {
			return got, want, true, nil
		}
	}
	return sectionScan{}, published{}, false, nil
}

// repairSection rebuilds one data hash (with its index hash) from the
// database at the published version into a staging key and swaps it in
// with meta in one MULTI/EXEC, unless a delta got in meanwhile (then it
// reports false: the next reconcile checks again). The database read and
// the staging run without holding the publisher's step.
func (p *Publisher) repairSection(ctx context.Context, key string) (bool, error) {
	st, err := p.source.Stream(ctx)
	if err != nil {
		return false, err
	}
	defer st.Close()
	p.mu.Lock()
	if p.mirror == nil {
		p.mu.Unlock()
		return false, errNotLeader
	}
	version, gen := p.mirror.Version, p.gen[key]
	p.mu.Unlock()
	if st.Version() != version {
		return false, nil // changes are pending; the delta comes first
	}
	stage, err := p.store.Stage(ctx, stagedKeys([]string{key}))
	if err != nil {
		return false, err
	}
	part, err := p.streamBuild(ctx, st, stage, []string{key}, p.clock.Now())
	if err != nil {
		stage.Abort(ctx)
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mirror == nil || p.mirror.Version != version || p.gen[key] != gen {
		stage.Abort(ctx)
		return false, nil
	}
	sums := p.mirror.Sums().Clone()
	counts := p.mirror.Counts()
	sums[key], counts[key] = part.sums[key], part.counts[key]
	now := p.clock.Now()
	meta := ports.SnapshotMeta{Version: version, Checksum: sums.Total().String(), UpdatedAt: now,
		Counts: map[string]int{key: counts[key]}, Checksums: map[string]string{key: sums[key].String()}}
	if err := stage.Commit(ctx, meta, true); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return false, nil
		}
		return false, err
	}
	p.gen[key]++
	next := *p.mirror
	next.sums, next.counts = sums, counts
	if key == KeyModels {
		next.modelsChecksum = part.modelsChecksum
	}
	if key == KeyProviders || key == KeyBindings {
		// The repaired section's faults replace its old ones.
		faults := make([]domain.SnapshotFault, 0, len(next.Faults))
		for _, f := range next.Faults {
			if f.Resource != key {
				faults = append(faults, f)
			}
		}
		for _, f := range part.Faults {
			if f.Resource == key {
				faults = append(faults, f)
			}
		}
		sortFaults(faults)
		next.Faults = faults
	}
	if key == KeyAuthKeys && !part.NextTimeChange.IsZero() && (next.NextTimeChange.IsZero() || part.NextTimeChange.Before(next.NextTimeChange)) {
		next.NextTimeChange = part.NextTimeChange
	}
	p.mirror = &next
	p.reportFaults(&next)
	return true, p.recordPublished(ctx, &next, now)
}

// verify checks, holding the step, that every section of Redis equals the
// published summary s (adopting a snapshot at startup).
func (p *Publisher) verify(ctx context.Context, s *State) (bool, error) {
	sums, counts := s.Sums(), s.Counts()
	for _, key := range DataKeys {
		got, err := p.scan(ctx, key)
		if err != nil {
			return false, err
		}
		if d := drift(key, got, sums[key], counts[key]); len(d) > 0 {
			p.logger.Warn("redis snapshot section differs from the published state", "drifted", d)
			return false, nil
		}
	}
	return true, nil
}

// stateFrom rebuilds the publisher's summary from the stored one.
func stateFrom(pub *domain.PublishedSnapshot) (*State, bool) {
	s := &State{Version: pub.Version, ClockFrom: pub.ClockFrom, Faults: pub.Faults, sums: Sums{}, counts: map[string]int{}}
	for _, k := range DataKeys {
		hex, ok := pub.Checksums[k]
		if !ok {
			return nil, false
		}
		sum, ok := parseSum(hex)
		if !ok {
			return nil, false
		}
		s.sums[k], s.counts[k] = sum, pub.Counts[k]
	}
	return s, s.Checksum() == pub.Checksum
}

func parseSum(hex string) (Sum, bool) {
	var s Sum
	if len(hex) != 64 {
		return s, false
	}
	for i := range s {
		w, err := strconv.ParseUint(hex[16*i:16*i+16], 16, 64)
		if err != nil {
			return s, false
		}
		s[i] = w
	}
	return s, true
}

// published summary of s as stored for every replica.
func summary(s *State, at time.Time) domain.PublishedSnapshot {
	faults := slices.Clone(s.Faults)
	return domain.PublishedSnapshot{Version: s.Version, Checksum: s.Checksum(), Checksums: s.Sums().Strings(),
		Counts: s.Counts(), Faults: faults, ClockFrom: s.ClockFrom, At: at}
}

func (p *Publisher) recordPublished(ctx context.Context, s *State, at time.Time) error {
	return p.state.RecordPublished(ctx, summary(s, at))
}
