package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// SnapshotSource reads everything the snapshot needs, the outbox, and the
// publisher's shared state.
type SnapshotSource struct{ db *sqlx.DB }

var (
	_ ports.SnapshotSource = (*SnapshotSource)(nil)
	_ ports.PublishState   = (*SnapshotSource)(nil)
)

// NewSnapshotSource builds the source.
func NewSnapshotSource(db *sqlx.DB) *SnapshotSource { return &SnapshotSource{db: db} }

// Load implements ports.SnapshotSource in one repeatable-read transaction.
func (s *SnapshotSource) Load(ctx context.Context) (ports.SnapshotData, error) {
	var d ports.SnapshotData
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return d, translate(fmt.Errorf("begin snapshot read: %w", err))
	}
	defer func() { _ = tx.Rollback() }()

	const qVersion = `SELECT GREATEST(published_version, (SELECT coalesce(max(version), 0) FROM config_outbox)) FROM snapshot_state WHERE id = 1`
	if err := tx.GetContext(ctx, &d.Version, qVersion); err != nil {
		return d, fmt.Errorf("snapshot version: %w", translate(err))
	}

	var prows []struct {
		providerRow
		Ciphertext []byte `db:"api_key_ciphertext"`
	}
	qProviders := `SELECT p.id, p.name, p.type, p.base_url, p.api_key_mask, p.google_project, p.google_location,
       p.group_id, g.name AS group_name, p.models, p.weight, p.priority, p.status, p.auto_ban, p.created_at, p.updated_at,
       p.api_key_ciphertext
FROM providers p JOIN route_groups g ON g.id = p.group_id ORDER BY p.id`
	if err := tx.SelectContext(ctx, &prows, qProviders); err != nil {
		return d, fmt.Errorf("snapshot providers: %w", translate(err))
	}
	d.Ciphertexts = make(map[int64][]byte, len(prows))
	for _, r := range prows {
		d.Providers = append(d.Providers, toDomainProvider(r.providerRow))
		if len(r.Ciphertext) > 0 {
			d.Ciphertexts[r.ID] = r.Ciphertext
		}
	}

	var mrows []masterRow
	if err := tx.SelectContext(ctx, &mrows, `SELECT `+masterColumns+` FROM masters ORDER BY id`); err != nil {
		return d, fmt.Errorf("snapshot masters: %w", translate(err))
	}
	for _, r := range mrows {
		d.Masters = append(d.Masters, toDomainMaster(r))
	}

	var krows []keyRow
	if err := tx.SelectContext(ctx, &krows, `SELECT `+keyColumns+` FROM keys WHERE status <> 'revoked' ORDER BY id`); err != nil {
		return d, fmt.Errorf("snapshot keys: %w", translate(err))
	}
	for _, r := range krows {
		d.Keys = append(d.Keys, toDomainKey(r))
	}

	var modelRows []modelRow
	if err := tx.SelectContext(ctx, &modelRows, `SELECT `+modelColumns+` FROM models ORDER BY id`); err != nil {
		return d, fmt.Errorf("snapshot models: %w", translate(err))
	}
	for _, r := range modelRows {
		d.Models = append(d.Models, toDomainModel(r))
	}

	var brows []bindingRow
	if err := tx.SelectContext(ctx, &brows, bindingSelect+` ORDER BY b.id`); err != nil {
		return d, fmt.Errorf("snapshot bindings: %w", translate(err))
	}
	for _, r := range brows {
		b, err := toDomainBinding(r)
		if err != nil {
			return d, err
		}
		d.Bindings = append(d.Bindings, b)
	}

	var groups []groupRow
	if err := tx.SelectContext(ctx, &groups, `SELECT id, name FROM route_groups`); err != nil {
		return d, fmt.Errorf("snapshot route groups: %w", translate(err))
	}
	d.GroupIDs = make(map[string]int64, len(groups))
	for _, g := range groups {
		d.GroupIDs[g.Name] = g.ID
	}

	var flags []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := tx.SelectContext(ctx, &flags, `SELECT name, value FROM feature_flags`); err != nil {
		return d, fmt.Errorf("snapshot features: %w", translate(err))
	}
	d.Features = make(map[string]string, len(flags))
	for _, f := range flags {
		d.Features[f.Name] = f.Value
	}
	return d, nil
}

type outboxRow struct {
	Version   int64     `db:"version"`
	Section   string    `db:"section"`
	EntityID  string    `db:"entity_id"`
	Op        string    `db:"op"`
	CreatedAt time.Time `db:"created_at"`
}

// Poll implements ports.SnapshotSource: one statement reads the resync
// request and whether changes wait, numbered or not; unnumbered ones get
// their versions (one more round trip).
func (s *SnapshotSource) Poll(ctx context.Context, afterVersion int64) (*time.Time, bool, error) {
	var r struct {
		Resync      *time.Time `db:"resync_requested_at"`
		Unversioned bool       `db:"unversioned"`
		Pending     bool       `db:"pending"`
	}
	const q = `SELECT resync_requested_at,
  EXISTS (SELECT 1 FROM config_outbox WHERE version IS NULL) AS unversioned,
  EXISTS (SELECT 1 FROM config_outbox WHERE version > $1) AS pending
FROM snapshot_state WHERE id = 1`
	if err := s.db.GetContext(ctx, &r, q, afterVersion); err != nil {
		return nil, false, fmt.Errorf("pending changes: %w", translate(err))
	}
	if r.Unversioned {
		if err := s.assign(ctx); err != nil {
			return nil, false, err
		}
		// The versions just given are above every earlier one.
		r.Pending = true
	}
	return r.Resync, r.Pending, nil
}

// Ack implements ports.SnapshotSource.
func (s *SnapshotSource) Ack(ctx context.Context, version int64, at time.Time) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("begin ack: %w", err))
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `DELETE FROM config_outbox WHERE version <= $1`, version); err != nil {
		return fmt.Errorf("ack outbox: %w", translate(err))
	}
	const q = `UPDATE snapshot_state SET published_version = GREATEST(published_version, $1), last_publish_at = $2 WHERE id = 1`
	if _, err := tx.ExecContext(ctx, q, version, at); err != nil {
		return fmt.Errorf("ack outbox: %w", translate(err))
	}
	return translate(tx.Commit())
}

// AckPublished implements ports.SnapshotSource: Ack and RecordPublished
// (with its version guard) in one statement, so one round trip and one
// implicit transaction.
func (s *SnapshotSource) AckPublished(ctx context.Context, version int64, at time.Time, p domain.PublishedSnapshot) error {
	b, err := publishedBytes(p)
	if err != nil {
		return err
	}
	const q = `WITH acked AS (DELETE FROM config_outbox WHERE version <= $1)
UPDATE snapshot_state SET published_version = GREATEST(published_version, $1), last_publish_at = $2,
  published = CASE WHEN coalesce((published->>'version')::bigint, 0) <= $4 THEN $3::jsonb ELSE published END,
  last_error = CASE WHEN coalesce((published->>'version')::bigint, 0) <= $4 THEN '' ELSE last_error END
WHERE id = 1`
	if _, err := s.db.ExecContext(ctx, q, version, at, string(b), p.Version); err != nil {
		return fmt.Errorf("ack outbox and record published: %w", translate(err))
	}
	return nil
}

// Backlog implements ports.SnapshotSource.
func (s *SnapshotSource) Backlog(ctx context.Context) (int, *time.Time, error) {
	var r struct {
		Count  int        `db:"count"`
		Oldest *time.Time `db:"oldest"`
	}
	if err := s.db.GetContext(ctx, &r, `SELECT count(*) AS count, min(created_at) AS oldest FROM config_outbox`); err != nil {
		return 0, nil, fmt.Errorf("outbox backlog: %w", translate(err))
	}
	return r.Count, r.Oldest, nil
}

// CurrentVersion implements ports.SnapshotSource: committed changes get
// their versions first, so the answer covers every committed change.
func (s *SnapshotSource) CurrentVersion(ctx context.Context) (int64, error) {
	if err := s.AssignVersions(ctx); err != nil {
		return 0, err
	}
	return s.NumberedVersion(ctx)
}

// NumberedVersion implements ports.SnapshotSource: one read, no lock.
func (s *SnapshotSource) NumberedVersion(ctx context.Context) (int64, error) {
	var v int64
	const q = `SELECT GREATEST(published_version, (SELECT coalesce(max(version), 0) FROM config_outbox)) FROM snapshot_state WHERE id = 1`
	if err := s.db.GetContext(ctx, &v, q); err != nil {
		return 0, fmt.Errorf("config version: %w", translate(err))
	}
	return v, nil
}

// SetPublished implements ports.PublishState.
func (s *SnapshotSource) SetPublished(ctx context.Context, at time.Time, errMsg string) error {
	q := `UPDATE snapshot_state SET last_error = $2, last_publish_at = CASE WHEN $2 = '' THEN $1 ELSE last_publish_at END WHERE id = 1`
	if _, err := s.db.ExecContext(ctx, q, at, errMsg); err != nil {
		return fmt.Errorf("publish state: %w", translate(err))
	}
	return nil
}

// RequestResync implements ports.PublishState.
func (s *SnapshotSource) RequestResync(ctx context.Context, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE snapshot_state SET resync_requested_at = $1 WHERE id = 1`, at); err != nil {
		return fmt.Errorf("request resync: %w", translate(err))
	}
	return nil
}

// ResyncRequested implements ports.PublishState.
func (s *SnapshotSource) ResyncRequested(ctx context.Context) (*time.Time, error) {
	var at *time.Time
	if err := s.db.GetContext(ctx, &at, `SELECT resync_requested_at FROM snapshot_state WHERE id = 1`); err != nil {
		return nil, fmt.Errorf("resync request: %w", translate(err))
	}
	return at, nil
}

type resyncJSON struct {
	Version    int64          `json:"version"`
	Checksum   string         `json:"checksum"`
	Counts     map[string]int `json:"counts"`
	DurationMS float64        `json:"duration_ms"`
	At         time.Time      `json:"at"`
}

// SetResyncResult implements ports.PublishState; it also clears a pending
// request made before the resync started.
func (s *SnapshotSource) SetResyncResult(ctx context.Context, r domain.ResyncResult) error {
	b, err := json.Marshal(resyncJSON{Version: r.Version, Checksum: r.Checksum, Counts: r.Counts,
		DurationMS: float64(r.Duration.Microseconds()) / 1000, At: r.At})
	if err != nil {
		return err
	}
	const q = `UPDATE snapshot_state SET last_resync = $1,
  resync_requested_at = CASE WHEN resync_requested_at <= $2 THEN NULL ELSE resync_requested_at END WHERE id = 1`
	if _, err := s.db.ExecContext(ctx, q, string(b), r.At); err != nil {
		return fmt.Errorf("resync result: %w", translate(err))
	}
	return nil
}

// State implements ports.PublishState.
func (s *SnapshotSource) State(ctx context.Context) (domain.PublishState, error) {
	var r struct {
		LastPublishAt *time.Time `db:"last_publish_at"`
		LastError     string     `db:"last_error"`
		LastResync    []byte     `db:"last_resync"`
		Published     []byte     `db:"published"`
		LastReconcile []byte     `db:"last_reconcile"`
	}
	const q = `SELECT last_publish_at, last_error, last_resync, published, last_reconcile FROM snapshot_state WHERE id = 1`
	if err := s.db.GetContext(ctx, &r, q); err != nil {
		return domain.PublishState{}, fmt.Errorf("publish state: %w", translate(err))
	}
	st := domain.PublishState{LastPublishAt: r.LastPublishAt, LastError: r.LastError}
	if len(r.LastResync) > 0 {
		var j resyncJSON
		if err := json.Unmarshal(r.LastResync, &j); err != nil {
			return st, fmt.Errorf("publish state: %w", err)
		}
		st.LastResync = &domain.ResyncResult{Version: j.Version, Checksum: j.Checksum, Counts: j.Counts,
			Duration: time.Duration(j.DurationMS * float64(time.Millisecond)), At: j.At}
	}
	if len(r.Published) > 0 {
		var j publishedJSON
		if err := json.Unmarshal(r.Published, &j); err != nil {
			return st, fmt.Errorf("publish state: %w", err)
		}
		p := domain.PublishedSnapshot{Version: j.Version, Checksum: j.Checksum, Checksums: j.Checksums, Counts: j.Counts,
			ClockFrom: j.ClockFrom, At: j.At}
		for _, f := range j.Faults {
			p.Faults = append(p.Faults, domain.SnapshotFault{Resource: f.Key, Field: f.Field, Reason: f.Reason})
		}
		st.Published = &p
	}
	if len(r.LastReconcile) > 0 {
		var j reconcileJSON
		if err := json.Unmarshal(r.LastReconcile, &j); err != nil {
			return st, fmt.Errorf("publish state: %w", err)
		}
		rr := domain.ReconcileResult(j)
		st.LastReconcile = &rr
	}
	return st, nil
}

type faultJSON struct {
	Key    string `json:"key"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

type publishedJSON struct {
	Version   int64             `json:"version"`
	Checksum  string            `json:"checksum"`
	Checksums map[string]string `json:"checksums"`
	Counts    map[string]int    `json:"counts"`
	Faults    []faultJSON       `json:"faults"`
	ClockFrom time.Time         `json:"clock_from"`
	At        time.Time         `json:"at"`
}

type reconcileJSON struct {
	At        time.Time `json:"at"`
	Version   int64     `json:"version"`
	Checksum  string    `json:"checksum"`
	Matched   bool      `json:"matched"`
	Drifted   []string  `json:"drifted"`
	Repaired  []string  `json:"repaired"`
	Unchecked []string  `json:"unchecked"`
	Error     string    `json:"error"`
}

// RecordPublished implements ports.PublishState. The version guard keeps a
// deposed leader's late write from replacing a newer summary.
func (s *SnapshotSource) RecordPublished(ctx context.Context, p domain.PublishedSnapshot) error {
	b, err := publishedBytes(p)
	if err != nil {
		return err
	}
	const q = `UPDATE snapshot_state SET published = $1, last_publish_at = $2, last_error = ''
WHERE id = 1 AND coalesce((published->>'version')::bigint, 0) <= $3`
	if _, err := s.db.ExecContext(ctx, q, string(b), p.At, p.Version); err != nil {
		return fmt.Errorf("publish state: %w", translate(err))
	}
	return nil
}

func publishedBytes(p domain.PublishedSnapshot) ([]byte, error) {
	j := publishedJSON{Version: p.Version, Checksum: p.Checksum, Checksums: p.Checksums, Counts: p.Counts,
		Faults: make([]faultJSON, 0, len(p.Faults)), ClockFrom: p.ClockFrom, At: p.At}
	for _, f := range p.Faults {
		j.Faults = append(j.Faults, faultJSON{Key: f.Resource, Field: f.Field, Reason: f.Reason})
	}
	return json.Marshal(j)
}

// RecordReconcile implements ports.PublishState.
func (s *SnapshotSource) RecordReconcile(ctx context.Context, r domain.ReconcileResult) error {
	b, err := json.Marshal(reconcileJSON(r))
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE snapshot_state SET last_reconcile = $1 WHERE id = 1`, string(b)); err != nil {
		return fmt.Errorf("reconcile state: %w", translate(err))
	}
	return nil
}

// AdvancePast implements ports.SnapshotSource: under the version lock, the
// sequence is set to version unless it is already beyond it, and a change
// is recorded so the database's version is the next one.
func (s *SnapshotSource) AdvancePast(ctx context.Context, version int64) (int64, error) {
	var v int64
	err := NewTxRunner(s.db).InTx(ctx, func(ctx context.Context) error {
		if err := lockVersions(ctx, conn(ctx, s.db)); err != nil {
			return err
		}
		const q = `SELECT setval('config_version', GREATEST($1::bigint, (SELECT last_value FROM config_version)))`
		if _, err := conn(ctx, s.db).ExecContext(ctx, q, version); err != nil {
			return fmt.Errorf("advance config version past %d: %w", version, translate(err))
		}
		if _, err := NewChangeRecorder(s.db).Record(ctx, domain.SectionFeatures, "resync", domain.OpUpsert); err != nil {
			return err
		}
		var err error
		v, err = assignVersions(ctx, conn(ctx, s.db))
		return err
	})
	return v, err
}

// RecordTimeChange implements ports.SnapshotSource as an outbox row like
// every configuration change.
func (s *SnapshotSource) RecordTimeChange(ctx context.Context) error {
	return NewTxRunner(s.db).InTx(ctx, func(ctx context.Context) error {
		_, err := NewChangeRecorder(s.db).Record(ctx, domain.SectionKeys, "clock", domain.OpUpsert)
		return err
	})
}
