package snapshot

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
	"github.com/ez-api/ez-api/internal/ports"
)

// MaxDeltaChanges bounds the outbox rows one change-driven delta takes; a
// longer backlog (e.g. after an outage) is published by one full build.
const MaxDeltaChanges = 1000

// changeSet is what a batch of outbox rows names, per section.
type changeSet struct {
	providers, masters, keys, models, bindings map[int64]bool
	features                                   map[string]bool
	// clock: a change by the clock was recorded (keys expired or their
	// grace ended since the state's ClockFrom).
	clock bool
}

func newChangeSet() *changeSet {
	return &changeSet{providers: map[int64]bool{}, masters: map[int64]bool{}, keys: map[int64]bool{},
		models: map[int64]bool{}, bindings: map[int64]bool{}, features: map[string]bool{}}
}

// add records one row; false when the row is not about one entity (a
// clock-driven change, a resync marker) and needs a full build.
func (c *changeSet) add(ch ports.OutboxChange) bool {
	if ch.Section == domain.SectionFeatures {
		if ch.EntityID == "resync" {
			return false
		}
		c.features[ch.EntityID] = true
		return true
	}
	if ch.Section == domain.SectionKeys && ch.EntityID == "clock" {
		c.clock = true
		return true
	}
	id, err := strconv.ParseInt(ch.EntityID, 10, 64)
	if err != nil {
		return false
	}
	switch ch.Section {
	case domain.SectionProviders:
		c.providers[id] = true
	case domain.SectionMasters:
		c.masters[id] = true
	case domain.SectionKeys:
		c.keys[id] = true
	case domain.SectionModels:
		c.models[id] = true
	case domain.SectionBindings:
		c.bindings[id] = true
	default:
		return false
	}
	return true
}

func ids(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func idFields(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

// entries collects, per hash, the fields to set and the fields the touched
// entities had before (deleted unless set again).
type entries struct {
	set map[string]map[string]string
	old map[string]map[string]bool
}

func newEntries() *entries {
	return &entries{set: map[string]map[string]string{}, old: map[string]map[string]bool{}}
}

func (e *entries) put(key, field, value string) {
	if e.set[key] == nil {
		e.set[key] = map[string]string{}
	}
	e.set[key][field] = value
}

func (e *entries) had(key, field string) {
	if e.old[key] == nil {
		e.old[key] = map[string]bool{}
	}
	e.old[key][field] = true
}

// indexed reads the index entries of ids for data hash key and notes the
// fields they name as previously published.
func (p *Publisher) indexed(ctx context.Context, e *entries, key string, ids []int64) error {
	idx := indexOf[key]
	got, err := p.store.Fields(ctx, idx, idFields(ids))
	if err != nil {
		return err
	}
	for id, fs := range got {
		e.had(idx, id)
		for _, f := range strings.Split(fs, ",") {
			if f != "" {
				e.had(key, f)
			}
		}
	}
	return nil
}

// applyChanges publishes the pending outbox rows change-driven: each row
// becomes exactly the entries it affects, read from the database by id in
// one consistent view, and the checksums are updated from the old and new
// values of those entries (old values read back from Redis). It reports
// false, having written nothing, when the rows need a full build.
func (p *Publisher) applyChanges(ctx context.Context) (bool, error) {
	start := p.clock.Now()
	r, err := p.source.ReadChanges(ctx, p.mirror.Version)
	if err != nil {
		return false, err
	}
	defer r.Close()
	rows, err := r.Pending(ctx, MaxDeltaChanges+1)
	if err != nil || len(rows) == 0 {
		return err == nil, err
	}
	if len(rows) > MaxDeltaChanges {
		return false, nil
	}
	cs := newChangeSet()
	for _, row := range rows {
		if !cs.add(row) {
			return false, nil
		}
	}
	// Microseconds, as PostgreSQL stores times, so the clock windows below
	// compare exactly.
	now := p.clock.Now().Truncate(time.Microsecond)
	want := &State{Version: rows[len(rows)-1].Version, NextTimeChange: p.mirror.NextTimeChange, ClockFrom: p.mirror.ClockFrom}
	if cs.clock {
		// Only the keys whose value the clock changed since the state was
		// last brought up to date, then the next such moment.
		// A second of overlap: recomputing an unchanged key writes nothing.
		changed, err := r.KeysChangedByClock(ctx, p.mirror.ClockFrom.Add(-time.Second), now)
		if err != nil {
			return false, err
		}
		for _, id := range changed {
			cs.keys[id] = true
		}
		next, err := r.NextKeyTimeChange(ctx, now)
		if err != nil {
			return false, err
		}
		want.ClockFrom, want.NextTimeChange = now, time.Time{}
		if next != nil {
			want.NextTimeChange = *next
		}
	}
	e := newEntries()
	faults := map[string]domain.SnapshotFault{}
	for _, f := range p.mirror.Faults {
		faults[faultKey(f.Resource, f.Field)] = f
	}
	// served: per route group, the model lists the changed providers served
	// there before (as published) and serve now.
	served := map[string][][]string{}

	// Providers: the entry, and the route groups (old and new) whose
	// bindings resolve through it.
	if len(cs.providers) > 0 {
		pids := ids(cs.providers)
		old, err := p.store.Fields(ctx, KeyProviders, idFields(pids))
		if err != nil {
			return false, err
		}
		for f, v := range old {
			e.had(KeyProviders, f)
			var pj struct {
				Group  string   `json:"group"`
				Models []string `json:"models"`
			}
			if json.Unmarshal([]byte(v), &pj) == nil && pj.Group != "" {
				served[pj.Group] = append(served[pj.Group], pj.Models)
			}
		}
		provs, cts, err := r.Providers(ctx, pids)
		if err != nil {
			return false, err
		}
		for _, f := range idFields(pids) {
			delete(faults, faultKey(KeyProviders, f))
		}
		for _, pv := range provs {
			field := strconv.FormatInt(pv.ID, 10)
			key, fault := p.providerSecret(pv.ID, cts[pv.ID])
			if fault != "" {
				faults[faultKey(KeyProviders, field)] = domain.SnapshotFault{Resource: KeyProviders, Field: field, Reason: fault}
			}
			e.put(KeyProviders, field, providerJSON(pv, key, fault))
			served[pv.Group] = append(served[pv.Group], pv.Models)
		}
	}

	// Masters: the entry, and every key of the master (key values embed
	// the master's status, namespaces and limits).
	masters := map[int64]domain.Master{}
	if len(cs.masters) > 0 {
		mids := ids(cs.masters)
		for _, f := range idFields(mids) {
			e.had(KeyMasters, f)
		}
		ms, err := r.Masters(ctx, mids)
		if err != nil {
			return false, err
		}
		for _, m := range ms {
			masters[m.ID] = m
			e.put(KeyMasters, strconv.FormatInt(m.ID, 10), masterJSON(m))
		}
		ks, err := r.KeysOfMasters(ctx, mids)
		if err != nil {
			return false, err
		}
		for _, k := range ks {
			cs.keys[k.ID] = true
		}
	}

	// Keys: every field the key publishes (token, grace token) replaces
	// every field it published before (the index).
	if len(cs.keys) > 0 {
		kids := ids(cs.keys)
		if err := p.indexed(ctx, e, KeyAuthKeys, kids); err != nil {
			return false, err
		}
		ks, err := r.Keys(ctx, kids)
		if err != nil {
			return false, err
		}
		var need []int64
		for _, k := range ks {
			if _, ok := masters[k.MasterID]; !ok {
				need = append(need, k.MasterID)
			}
		}
		if len(need) > 0 {
			ms, err := r.Masters(ctx, need)
			if err != nil {
				return false, err
			}
			for _, m := range ms {
				masters[m.ID] = m
			}
		}
		for _, k := range ks {
			kv := keyEntries(k, masters[k.MasterID], now)
			for f, v := range kv {
				e.put(KeyAuthKeys, f, v)
			}
			if len(kv) > 0 {
				e.put(indexOf[KeyAuthKeys], strconv.FormatInt(k.ID, 10), joinFields(kv))
			}
			if until := k.GraceUntil(now); until != nil {
				want.noteTimeChange(*until)
			}
			if k.Status == domain.KeyActive && k.ExpiresAt != nil && now.Before(*k.ExpiresAt) {
				want.noteTimeChange(*k.ExpiresAt)
			}
		}
	}

	// Models: the entry (field: the model's key, which a rename changes)
	// and the model's binding, whose field is the same key.
	if len(cs.models) > 0 {
		mids := ids(cs.models)
		if err := p.indexed(ctx, e, KeyModels, mids); err != nil {
			return false, err
		}
		ms, err := r.Models(ctx, mids)
		if err != nil {
			return false, err
		}
		for _, m := range ms {
			e.put(KeyModels, m.Key(), modelJSON(m))
			e.put(indexOf[KeyModels], strconv.FormatInt(m.ID, 10), m.Key())
		}
		bs, err := r.BindingsOfModels(ctx, mids)
		if err != nil {
			return false, err
		}
		for _, b := range bs {
			cs.bindings[b.ID] = true
		}
	}

	// Bindings: the named ones, those of changed models, and those routing
	// to a changed provider's old or new route group whose resolution the
	// provider can change.
	if len(served) > 0 {
		bs, err := r.BindingsRoutingTo(ctx, keysOf(served))
		if err != nil {
			return false, err
		}
		for _, b := range bs {
			if !cs.bindings[b.ID] && affectedBy(b, served, p.resolver()) {
				cs.bindings[b.ID] = true
			}
		}
	}
	if len(cs.bindings) > 0 {
		rs, err := p.publishBindings(ctx, r, e, ids(cs.bindings))
		if err != nil {
			return false, err
		}
		// The fields the bindings had (a rename, a delete) lose their
		// faults; the ones that ran out of budget now have one.
		for f := range e.old[KeyBindings] {
			delete(faults, faultKey(KeyBindings, f))
		}
		for _, f := range rs.faults {
			faults[faultKey(f.Resource, f.Field)] = f
		}
		want.budgetExceeded = len(rs.faults)
		want.Resolutions = rs.resolutions
		for i := range want.Resolutions {
			want.Resolutions[i].Version = want.Version
		}
	}

	if len(cs.features) > 0 {
		names := make([]string, 0, len(cs.features))
		for n := range cs.features {
			names = append(names, n)
			e.had(KeyFeatures, n)
		}
		fs, err := r.Features(ctx, names)
		if err != nil {
			return false, err
		}
		for n, v := range fs {
			e.put(KeyFeatures, n, v)
		}
	}

	ops, err := p.opsFor(ctx, want, e)
	if err != nil {
		return false, err
	}
	for _, f := range faults {
		want.Faults = append(want.Faults, f)
	}
	sortFaults(want.Faults)
	return true, p.publishDelta(ctx, start, want, ops)
}

func faultKey(resource, field string) string { return resource + "\x00" + field }

// affectedBy reports whether a provider change can change b's published
// value: some candidate of b on a route group in served hits a model the
// changed providers served there before or serve now. A candidate's
// resolution is the providers its selector hits in its group (an active
// provider with a usable secret), so a provider whose models the selector
// hits neither before nor after the change leaves it as it was, whatever
// else changed about the provider (status, secret, weight). The group ids
// do not move either: a binding's route groups exist from the binding's
// write on (the bindings use-case ensures them) and are never removed.
//
// The matching spends the binding's resolution budget, so a runaway regex
// costs at most that here too.
func affectedBy(b domain.Binding, served map[string][][]string, r Resolver) bool {
	budget := routing.NewBudget(r.Budget, r.Now)
	for _, c := range b.Candidates {
		lists := served[c.RouteGroup]
		if len(lists) == 0 {
			continue
		}
		c = routing.WithPublicModel(c, b.PublicModel)
		for _, models := range lists {
			if routing.Hits(c, models, budget) {
				return true
			}
		}
	}
	return false
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// providerSecret decrypts a provider's secret; a secret this replica cannot
// decrypt makes the provider fail-closed (the fault).
func (p *Publisher) providerSecret(id int64, ct []byte) (string, string) {
	if len(ct) == 0 {
		return "", ""
	}
	key, err := p.decrypt(id, ct)
	if err != nil {
		return "", FaultSecretUndecryptable
	}
	return key, ""
}

// publishBindings re-resolves the bindings against the current providers
// of the route groups their candidates name, each within the budget.
func (p *Publisher) publishBindings(ctx context.Context, r ports.ChangeReader, e *entries, bids []int64) (*resolved, error) {
	if err := p.indexed(ctx, e, KeyBindings, bids); err != nil {
		return nil, err
	}
	bs, err := r.Bindings(ctx, bids)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, b := range bs {
		for _, c := range b.Candidates {
			names[c.RouteGroup] = true
		}
	}
	refs := map[string][]domain.ProviderRef{}
	groupIDs := map[string]int64{}
	if len(names) > 0 {
		gr, err := r.RoutingIn(ctx, keysOf(names))
		if err != nil {
			return nil, err
		}
		for group, active := range gr.Active {
			for _, pv := range active {
				if _, fault := p.providerSecret(pv.ID, gr.Ciphertexts[pv.ID]); fault == "" {
					refs[group] = append(refs[group], pv)
				}
			}
		}
		groupIDs = gr.GroupIDs
	}
	index, rs, res := indexes(refs), &resolved{}, p.resolver()
	for _, b := range bs {
		e.put(KeyBindings, b.Key(), bindingJSON(b, res.binding(b, index, groupIDs, rs)))
		e.put(indexOf[KeyBindings], strconv.FormatInt(b.ID, 10), b.Key())
	}
	return rs, nil
}

// opsFor turns the collected entries into ops against what Redis holds
// (old values read with HMGET) and sets want's checksums and counts from
// the previous ones, changed entry by changed entry.
func (p *Publisher) opsFor(ctx context.Context, want *State, e *entries) ([]ports.SnapshotOp, error) {
	sums := p.mirror.Sums().Clone()
	counts := p.mirror.Counts()
	var ops []ports.SnapshotOp
	modelsChanged := false
	// Every touched field's current value, all hashes in one round trip.
	read := map[string][]string{}
	for _, key := range DataKeys {
		set, old := e.set[key], e.old[key]
		fields := make([]string, 0, len(set)+len(old))
		for f := range set {
			fields = append(fields, f)
		}
		for f := range old {
			if _, ok := set[f]; !ok {
				fields = append(fields, f)
			}
		}
		if len(fields) > 0 {
			sort.Strings(fields)
			read[key] = fields
		}
	}
	values, err := p.store.FieldsOf(ctx, read)
	if err != nil {
		return nil, err
	}
	for _, key := range DataKeys {
		fields, have := read[key], values[key]
		set := e.set[key]
		for _, f := range fields {
			prev, had := have[f]
			v, setting := set[f]
			var op ports.SnapshotOp
			switch {
			case setting && had && prev == v:
				continue
			case setting:
				op = ports.SnapshotOp{Key: key, Field: f, Value: v}
				if !had {
					counts[key]++
				}
			case had:
				op = ports.SnapshotOp{Key: key, Field: f, Del: true}
				counts[key]--
			default:
				continue
			}
			sums.Apply(op, prev, had)
			ops = append(ops, op)
			modelsChanged = modelsChanged || key == KeyModels
		}
	}
	for _, key := range IndexKeys {
		for f, v := range e.set[key] {
			ops = append(ops, ports.SnapshotOp{Key: key, Field: f, Value: v})
		}
		for f := range e.old[key] {
			if _, ok := e.set[key][f]; !ok {
				ops = append(ops, ports.SnapshotOp{Key: key, Field: f, Del: true})
			}
		}
	}
	want.sums, want.counts = sums, counts
	want.modelsChecksum = p.mirror.ModelsChecksum()
	if modelsChanged {
		// The original balancer's models checksum is over the whole sorted
		// hash: read meta:models back (it is small) and apply the change.
		models, err := p.store.Hash(ctx, KeyModels)
		if err != nil {
			return nil, err
		}
		for _, op := range ops {
			if op.Key != KeyModels {
				continue
			}
			if op.Del {
				delete(models, op.Field)
			} else {
				models[op.Field] = op.Value
			}
		}
		want.modelsChecksum = ModelsChecksum(models)
	}
	return ops, nil
}
