package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// BindingResolutionRepository stores each binding's last computed
// resolution (binding_resolutions), one JSONB array of candidates per binding.
type BindingResolutionRepository struct{ db *sqlx.DB }

var _ ports.BindingResolutionStore = (*BindingResolutionRepository)(nil)

// NewBindingResolutionRepository builds the repository.
func NewBindingResolutionRepository(db *sqlx.DB) *BindingResolutionRepository {
	return &BindingResolutionRepository{db: db}
}

// resolvedCandidateJSON is the stored form of one resolved candidate: the
// candidate it was computed for (to tell a stale row) and its outcome.
type resolvedCandidateJSON struct {
	RouteGroup    string            `json:"route_group"`
	GroupID       int64             `json:"group_id"`
	Weight        int               `json:"weight"`
	SelectorType  string            `json:"selector_type"`
	SelectorValue string            `json:"selector_value"`
	Status        string            `json:"status"`
	Error         string            `json:"error,omitempty"`
	Detail        string            `json:"detail,omitempty"`
	Upstreams     map[string]string `json:"upstreams"`
}

type resolutionRecord struct {
	BindingID  int64                   `json:"binding_id"`
	Version    int64                   `json:"version"`
	Resolution []resolvedCandidateJSON `json:"resolution"`
	ResolvedAt time.Time               `json:"resolved_at"`
}

func toResolutionJSON(cs []domain.ResolvedCandidate) []resolvedCandidateJSON {
	out := make([]resolvedCandidateJSON, len(cs))
	for i, c := range cs {
		ups := make(map[string]string, len(c.Resolution.Upstreams))
		for id, m := range c.Resolution.Upstreams {
			ups[strconv.FormatInt(id, 10)] = m
		}
		out[i] = resolvedCandidateJSON{RouteGroup: c.RouteGroup, GroupID: c.GroupID, Weight: c.Weight,
			SelectorType: string(c.SelectorType), SelectorValue: c.SelectorValue, Status: c.Resolution.Status,
			Error: c.Resolution.Error, Detail: c.Resolution.Detail, Upstreams: ups}
	}
	return out
}

func toDomainResolution(id, version int64, raw []byte, at time.Time) (domain.BindingResolution, error) {
	var cs []resolvedCandidateJSON
	if err := json.Unmarshal(raw, &cs); err != nil {
		return domain.BindingResolution{}, fmt.Errorf("binding %d resolution: %w", id, err)
	}
	out := domain.BindingResolution{BindingID: id, Version: version, ResolvedAt: at,
		Candidates: make([]domain.ResolvedCandidate, len(cs))}
	for i, c := range cs {
		ups := make(map[int64]string, len(c.Upstreams))
		for k, m := range c.Upstreams {
			pid, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return domain.BindingResolution{}, fmt.Errorf("binding %d resolution: provider id %q: %w", id, k, err)
			}
			ups[pid] = m
		}
		out.Candidates[i] = domain.ResolvedCandidate{
			BindingCandidate: domain.BindingCandidate{RouteGroup: c.RouteGroup, Weight: c.Weight,
				SelectorType: domain.SelectorType(c.SelectorType), SelectorValue: c.SelectorValue},
			GroupID:    c.GroupID,
			Resolution: domain.CandidateResolution{Status: c.Status, Error: c.Error, Detail: c.Detail, Upstreams: ups},
		}
	}
	return out, nil
}

// SaveResolutions implements ports.BindingResolutionStore.
func (r *BindingResolutionRepository) SaveResolutions(ctx context.Context, rs []domain.BindingResolution) error {
	if len(rs) == 0 {
		return nil
	}
	// One row per binding (ON CONFLICT cannot touch a row twice): the newest.
	newest := make(map[int64]domain.BindingResolution, len(rs))
	for _, x := range rs {
		if have, ok := newest[x.BindingID]; !ok || have.Version <= x.Version {
			newest[x.BindingID] = x
		}
	}
	recs := make([]resolutionRecord, 0, len(newest))
	for _, x := range newest {
		recs = append(recs, resolutionRecord{BindingID: x.BindingID, Version: x.Version,
			Resolution: toResolutionJSON(x.Candidates), ResolvedAt: x.ResolvedAt.UTC()})
	}
	// Lock rows in one order, so concurrent saves cannot deadlock.
	slices.SortFunc(recs, func(a, b resolutionRecord) int { return cmp.Compare(a.BindingID, b.BindingID) })
	payload, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	// The join skips bindings deleted meanwhile; the WHERE keeps a newer
	// resolution (the binding's own update, at a higher version) and does
	// not rewrite an unchanged one.
	const q = `INSERT INTO binding_resolutions (binding_id, version, resolution, resolved_at)
SELECT r.binding_id, CASE WHEN r.version = 0 THEN (SELECT last_value FROM config_version) ELSE r.version END,
       r.resolution, r.resolved_at
FROM jsonb_to_recordset($1::jsonb) AS r(binding_id bigint, version bigint, resolution jsonb, resolved_at timestamptz)
JOIN bindings b ON b.id = r.binding_id
ORDER BY r.binding_id
ON CONFLICT (binding_id) DO UPDATE SET version = EXCLUDED.version, resolution = EXCLUDED.resolution, resolved_at = EXCLUDED.resolved_at
WHERE binding_resolutions.version <= EXCLUDED.version AND binding_resolutions.resolution IS DISTINCT FROM EXCLUDED.resolution`
	if _, err := conn(ctx, r.db).ExecContext(ctx, q, string(payload)); err != nil {
		return fmt.Errorf("save %d binding resolutions: %w", len(recs), translate(err))
	}
	return nil
}

// Resolutions implements ports.BindingResolutionStore.
func (r *BindingResolutionRepository) Resolutions(ctx context.Context, ids []int64) (map[int64]domain.BindingResolution, error) {
	out := make(map[int64]domain.BindingResolution, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		BindingID  int64     `db:"binding_id"`
		Version    int64     `db:"version"`
		Resolution []byte    `db:"resolution"`
		ResolvedAt time.Time `db:"resolved_at"`
	}
	const q = `SELECT binding_id, version, resolution, resolved_at FROM binding_resolutions WHERE binding_id = ANY($1)`
	if err := conn(ctx, r.db).SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("binding resolutions: %w", translate(err))
	}
	for _, row := range rows {
		res, err := toDomainResolution(row.BindingID, row.Version, row.Resolution, row.ResolvedAt)
		if err != nil {
			return nil, err
		}
		out[row.BindingID] = res
	}
	return out, nil
}
