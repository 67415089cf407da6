package redissnap

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

const (
	// hsetFields bounds the fields of one HSET while staging.
	hsetFields = 1000
	// stageBatch is the fields sent in one pipeline; stageQueue the
	// batches that may wait for the writer (memory: about
	// (stageQueue+2)·stageBatch entries).
	stageBatch = 4000
	stageQueue = 2
)

type stageEntry struct{ key, field, value string }

// staging implements ports.SnapshotStaging: a writer goroutine pipelines
// the batches while the caller builds the next ones.
type staging struct {
	s      *Store
	keys   []string
	staged map[string]int
	batch  []stageEntry
	queue  chan []stageEntry
	done   chan struct{}
	free   chan []stageEntry
	// finished: the queue is closed (Commit or Abort ran).
	finished bool

	errMu sync.Mutex
	err   error
}

var _ ports.SnapshotStaging = (*staging)(nil)

func (s *Store) stagingKey(k string) string { return s.key("staging:" + k) }

// Stage implements ports.SnapshotStore.
func (s *Store) Stage(ctx context.Context, keys []string) (ports.SnapshotStaging, error) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = s.stagingKey(k)
	}
	if len(names) > 0 {
		if err := s.rdb.Del(ctx, names...).Err(); err != nil {
			return nil, unavailable("stage", err)
		}
	}
	st := &staging{s: s, keys: keys, staged: make(map[string]int, len(keys)),
		batch: make([]stageEntry, 0, stageBatch), queue: make(chan []stageEntry, stageQueue),
		done: make(chan struct{}), free: make(chan []stageEntry, stageQueue+2)}
	go st.writer(context.WithoutCancel(ctx))
	return st, nil
}

func (st *staging) setErr(err error) {
	st.errMu.Lock()
	defer st.errMu.Unlock()
	if st.err == nil {
		st.err = err
	}
}

func (st *staging) failed() error {
	st.errMu.Lock()
	defer st.errMu.Unlock()
	return st.err
}

// writer sends each batch as one pipeline of HSETs: the batch's entries
// grouped by hash (a key's entry and its index entry alternate), at most
// hsetFields fields per HSET.
func (st *staging) writer(ctx context.Context) {
	defer close(st.done)
	for b := range st.queue {
		if st.failed() == nil {
			pipe := st.s.rdb.Pipeline()
			// A fresh args slice per command: the pipeline keeps it until Exec.
			open := map[string][]any{}
			for _, e := range b {
				args := open[e.key]
				if args == nil {
					args = make([]any, 0, 2*min(len(b), hsetFields)+2)
					args = append(args, "hset", st.s.stagingKey(e.key))
				}
				args = append(args, e.field, e.value)
				if len(args) >= 2*hsetFields+2 {
					pipe.Do(ctx, args...)
					args = nil
				}
				open[e.key] = args
			}
			for _, args := range open {
				if args != nil {
					pipe.Do(ctx, args...)
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				st.setErr(unavailable("stage", err))
			}
		}
		clear(b)
		select {
		case st.free <- b[:0]:
		default:
		}
	}
}

func (st *staging) send(ctx context.Context) error {
	if len(st.batch) == 0 {
		return nil
	}
	select {
	case st.queue <- st.batch:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case st.batch = <-st.free:
	default:
		st.batch = make([]stageEntry, 0, stageBatch)
	}
	return st.failed()
}

// Put implements ports.SnapshotStaging.
func (st *staging) Put(ctx context.Context, key, field, value string) error {
	st.batch = append(st.batch, stageEntry{key, field, value})
	st.staged[key]++
	if len(st.batch) >= stageBatch {
		return st.send(ctx)
	}
	return nil
}

// finish sends the rest and waits for the writer; safe to call twice.
func (st *staging) finish(ctx context.Context) error {
	var err error
	if !st.finished {
		st.finished = true
		err = st.send(ctx)
		close(st.queue)
	}
	<-st.done
	return errors.Join(err, st.failed())
}

// Abort implements ports.SnapshotStaging.
func (st *staging) Abort(ctx context.Context) {
	_ = st.finish(ctx)
	names := make([]string, len(st.keys))
	for i, k := range st.keys {
		names[i] = st.s.stagingKey(k)
	}
	if len(names) > 0 {
		_ = st.s.rdb.Del(context.WithoutCancel(ctx), names...).Err()
	}
}

var errVersionMoved = errors.New("redis snapshot version moved")

// Commit implements ports.SnapshotStaging.
func (st *staging) Commit(ctx context.Context, meta ports.SnapshotMeta, partial bool) error {
	if err := st.finish(ctx); err != nil {
		st.Abort(ctx)
		return err
	}
	s := st.s
	metaKey := s.key(snapshot.KeySnapshot)
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		cur, err := tx.HGet(ctx, metaKey, "version").Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if !partial && cur > meta.Version {
			return errVersionAhead // never move the version backwards
		}
		if partial && cur != meta.Version {
			return errVersionMoved // a delta or a resync got in between
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range st.keys {
				if st.staged[k] == 0 {
					p.Del(ctx, s.key(k)) // an empty hash does not exist in Redis
					continue
				}
				p.Rename(ctx, s.stagingKey(k), s.key(k))
			}
			if !partial {
				p.Del(ctx, metaKey)
			}
			p.HSet(ctx, metaKey, metaFields(meta))
			return nil
		})
		return err
	}, metaKey)
	switch {
	case errors.Is(err, errVersionAhead):
		st.Abort(ctx)
		return fmt.Errorf("redis holds a newer snapshot than version %d: %w", meta.Version, domain.ErrConflict)
	case errors.Is(err, errVersionMoved), errors.Is(err, redis.TxFailedErr):
		st.Abort(ctx)
		return fmt.Errorf("redis snapshot moved past version %d during the swap: %w", meta.Version, domain.ErrConflict)
	case err != nil:
		return unavailable("swap in snapshot", err)
	}
	resources := make([]string, 0, len(st.keys))
	for _, k := range append(append([]string{}, snapshot.DataKeys...), snapshot.KeyModelsMeta) {
		for _, sk := range st.keys {
			if sk == k {
				resources = append(resources, k)
			}
		}
	}
	s.announce(ctx, snapshot.Event{Version: meta.Version, Kind: "full", Changes: []snapshot.EventChange{}}, meta, resources)
	return nil
}

// Scan implements ports.SnapshotStore.
func (s *Store) Scan(ctx context.Context, key string, cursor uint64, count int) ([]string, uint64, error) {
	pairs, next, err := s.rdb.HScan(ctx, s.key(key), cursor, "", int64(count)).Result()
	if err != nil {
		return nil, 0, unavailable("scan "+key, err)
	}
	return pairs, next, nil
}
