// Package redissnap writes the snapshot into Redis for the balancers: deltas
// in one MULTI/EXEC guarded by the snapshot version, full replacements
// built under staging names and swapped in with one MULTI/EXEC of RENAMEs,
// and a change event on events:snapshot after each.
package redissnap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

// Store implements ports.SnapshotStore.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ ports.SnapshotStore = (*Store)(nil)

// NewStore builds the store; prefix goes in front of every key (use a hash
// tag such as "{ezapi}:" on Redis Cluster so one transaction can touch all).
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

func (s *Store) key(k string) string { return s.prefix + k }

var errVersionAhead = errors.New("redis snapshot version is ahead")

func unavailable(op string, err error) error {
	return fmt.Errorf("redis %s: %w: %v", op, domain.ErrUnavailable, err)
}

func metaFields(m ports.SnapshotMeta) map[string]any {
	f := map[string]any{
		"version":    strconv.FormatInt(m.Version, 10),
		"checksum":   m.Checksum,
		"updated_at": strconv.FormatInt(m.UpdatedAt.Unix(), 10),
	}
	for k, n := range m.Counts {
		f["count:"+k] = strconv.Itoa(n)
	}
	for k, c := range m.Checksums {
		f["checksum:"+k] = c
	}
	return f
}

func asAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ApplyDelta implements ports.SnapshotStore: under WATCH meta:snapshot,
// the version is read and, unless it is already ≥ meta's, the ops and meta
// are written in one MULTI/EXEC, then the events are published. On a
// single-node or failover client this takes two round trips on one
// connection (WATCH with the read; MULTI…EXEC with the events inside, so
// they go out only with the delta); a cluster client takes the general
// path.
func (s *Store) ApplyDelta(ctx context.Context, ops []ports.SnapshotOp, meta ports.SnapshotMeta, modelsMeta map[string]string) (bool, error) {
	if c, ok := s.rdb.(*redis.Client); ok {
		return s.applyDeltaOn(ctx, c.Conn(), ops, meta, modelsMeta)
	}
	metaKey := s.key(snapshot.KeySnapshot)
	applied := false
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		cur, err := tx.HGet(ctx, metaKey, "version").Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if cur >= meta.Version {
			return nil // never move the version backwards
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.queueDelta(ctx, p, ops, meta, modelsMeta)
			return nil
		})
		if err == nil {
			applied = true
		}
		return err
	}, metaKey)
	if err != nil {
		return false, unavailable("apply delta", err)
	}
	if applied {
		ev, resources := deltaEvents(ops, meta, modelsMeta)
		s.announce(ctx, ev, meta, resources)
	}
	return applied, nil
}

// applyDeltaOn is ApplyDelta on one connection of a single-node client.
func (s *Store) applyDeltaOn(ctx context.Context, conn *redis.Conn, ops []ports.SnapshotOp, meta ports.SnapshotMeta,
	modelsMeta map[string]string) (bool, error) {
	defer func() { _ = conn.Close() }()
	metaKey := s.key(snapshot.KeySnapshot)
	var cur *redis.StringCmd
	if _, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "WATCH", metaKey)
		cur = p.HGet(ctx, metaKey, "version")
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return false, unavailable("apply delta", err)
	}
	v, err := cur.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		_ = conn.Do(ctx, "UNWATCH").Err()
		return false, unavailable("apply delta", err)
	}
	if v >= meta.Version {
		_ = conn.Do(ctx, "UNWATCH").Err()
		return false, nil // never move the version backwards
	}
	ev, resources := deltaEvents(ops, meta, modelsMeta)
	if _, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.queueDelta(ctx, p, ops, meta, modelsMeta)
		s.queueEvents(ctx, p, ev, meta, resources)
		return nil
	}); err != nil {
		return false, unavailable("apply delta", err)
	}
	return true, nil
}

// queueDelta queues the writes of a delta: its ops, meta:models_meta when
// given, meta:snapshot.
func (s *Store) queueDelta(ctx context.Context, p redis.Pipeliner, ops []ports.SnapshotOp, meta ports.SnapshotMeta,
	modelsMeta map[string]string) {
	for _, op := range ops {
		if op.Del {
			p.HDel(ctx, s.key(op.Key), op.Field)
		} else {
			p.HSet(ctx, s.key(op.Key), op.Field, op.Value)
		}
	}
	if modelsMeta != nil {
		p.Del(ctx, s.key(snapshot.KeyModelsMeta))
		p.HSet(ctx, s.key(snapshot.KeyModelsMeta), asAny(modelsMeta))
	}
	p.HSet(ctx, s.key(snapshot.KeySnapshot), metaFields(meta))
}

// deltaEvents are the change event of a delta and the hashes it changed
// (for the refresh events).
func deltaEvents(ops []ports.SnapshotOp, meta ports.SnapshotMeta, modelsMeta map[string]string) (snapshot.Event, []string) {
	ev := snapshot.Event{Version: meta.Version, Kind: "delta", Changes: make([]snapshot.EventChange, 0, len(ops))}
	for _, op := range ops {
		if snapshot.IsIndexKey(op.Key) {
			continue // the publisher's own bookkeeping, not the contract
		}
		c := snapshot.EventChange{Key: op.Key, Field: op.Field, Op: "set"}
		if op.Del {
			c.Op = "del"
		}
		ev.Changes = append(ev.Changes, c)
	}
	var resources []string
	seen := map[string]bool{}
	for _, op := range ops {
		if !seen[op.Key] && !snapshot.IsIndexKey(op.Key) {
			seen[op.Key] = true
			resources = append(resources, op.Key)
		}
	}
	if seen[snapshot.KeyModels] && modelsMeta != nil {
		resources = append(resources, snapshot.KeyModelsMeta)
	}
	return ev, resources
}

// announce publishes the change event, then the original balancer's reload
// signal (one dp:config:refresh event per changed hash), pipelined in one
// round trip. A lost event only delays balancers until their next poll of
// meta:snapshot, so failures are not errors.
func (s *Store) announce(ctx context.Context, ev snapshot.Event, meta ports.SnapshotMeta, resources []string) {
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		s.queueEvents(ctx, p, ev, meta, resources)
		return nil
	})
}

// queueEvents queues the change event and the refresh events on p.
func (s *Store) queueEvents(ctx context.Context, p redis.Pipeliner, ev snapshot.Event, meta ports.SnapshotMeta, resources []string) {
	version := strconv.FormatInt(meta.Version, 10)
	if b, err := json.Marshal(ev); err == nil {
		p.Publish(ctx, s.key(snapshot.Channel), b)
	}
	for _, r := range resources {
		b, err := json.Marshal(snapshot.RefreshEvent{Resource: r, Version: version, Timestamp: meta.UpdatedAt.Unix()})
		if err != nil {
			continue
		}
		p.Publish(ctx, s.key(snapshot.RefreshChannel), b)
	}
}

// Replace writes every section as a full snapshot through Stage (kept for
// benchmarks that time the Redis phase alone).
func (s *Store) Replace(ctx context.Context, sections map[string]map[string]string, meta ports.SnapshotMeta) error {
	keys := make([]string, 0, len(sections))
	for k := range sections {
		keys = append(keys, k)
	}
	st, err := s.Stage(ctx, keys)
	if err != nil {
		return err
	}
	for k, fields := range sections {
		for f, v := range fields {
			if err := st.Put(ctx, k, f, v); err != nil {
				st.Abort(ctx)
				return err
			}
		}
	}
	return st.Commit(ctx, meta, false)
}

// Meta implements ports.SnapshotStore.
func (s *Store) Meta(ctx context.Context) (ports.SnapshotMeta, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(snapshot.KeySnapshot)).Result()
	if err != nil {
		return ports.SnapshotMeta{}, unavailable("read meta", err)
	}
	out := ports.SnapshotMeta{Checksum: m["checksum"], Counts: map[string]int{}, Checksums: map[string]string{}}
	out.Version, _ = strconv.ParseInt(m["version"], 10, 64)
	if ts, err := strconv.ParseInt(m["updated_at"], 10, 64); err == nil {
		out.UpdatedAt = time.Unix(ts, 0)
	}
	for _, k := range snapshot.DataKeys {
		out.Counts[k], _ = strconv.Atoi(m["count:"+k])
		if c, ok := m["checksum:"+k]; ok {
			out.Checksums[k] = c
		}
	}
	return out, nil
}

// Fields implements ports.SnapshotStore.
func (s *Store) Fields(ctx context.Context, key string, fields []string) (map[string]string, error) {
	out := make(map[string]string, len(fields))
	if len(fields) == 0 {
		return out, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.key(key), fields...).Result()
	if err != nil {
		return nil, unavailable("read fields", err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[fields[i]] = str
		}
	}
	return out, nil
}

// FieldsOf implements ports.SnapshotStore.
func (s *Store) FieldsOf(ctx context.Context, fields map[string][]string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(fields))
	cmds := make(map[string]*redis.SliceCmd, len(fields))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for key, fs := range fields {
			out[key] = make(map[string]string, len(fs))
			if len(fs) > 0 {
				cmds[key] = p.HMGet(ctx, s.key(key), fs...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("read fields", err)
	}
	for key, cmd := range cmds {
		for i, v := range cmd.Val() {
			if str, ok := v.(string); ok {
				out[key][fields[key][i]] = str
			}
		}
	}
	return out, nil
}

// Hash implements ports.SnapshotStore.
func (s *Store) Hash(ctx context.Context, key string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(key)).Result()
	if err != nil {
		return nil, unavailable("read hash", err)
	}
	return m, nil
}
