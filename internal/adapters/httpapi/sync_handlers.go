package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// ResyncSnapshot implements gen.StrictServerInterface.
func (a *API) ResyncSnapshot(ctx context.Context, _ gen.ResyncSnapshotRequestObject) (gen.ResyncSnapshotResponseObject, error) {
	r, err := a.sync.Resync(ctx)
	if errors.Is(err, domain.ErrUnavailable) {
		// The operator asked for this and needs to know why it failed.
		return nil, &ProblemError{Status: http.StatusServiceUnavailable, Detail: err.Error(), Cause: err, Public: true}
	}
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int, len(r.Counts))
	for k, n := range r.Counts {
		counts[k] = n
	}
	return gen.ResyncSnapshot200JSONResponse{Version: r.Version, Checksum: r.Checksum, Counts: counts,
		DurationMs: float64(r.Duration.Microseconds()) / 1000}, nil
}

// GetSyncStatus implements gen.StrictServerInterface.
func (a *API) GetSyncStatus(ctx context.Context, _ gen.GetSyncStatusRequestObject) (gen.GetSyncStatusResponseObject, error) {
	st, err := a.sync.Status(ctx)
	if err != nil {
		return nil, err
	}
	now := a.clock.Now()
	out := gen.GetSyncStatus200JSONResponse{
		DatabaseVersion: st.DatabaseVersion, RedisVersion: st.RedisVersion, RedisChecksum: st.RedisChecksum,
		ComputedChecksum: st.ComputedChecksum, ExpectedChecksum: st.ExpectedChecksum, InSync: st.InSync,
		OutboxBacklog: st.Backlog, LastPublishAt: nullableTime(st.LastPublishAt),
		OldestPendingAgeSeconds: nullable.NewNullNullable[float64](),
		Balancers:               make([]gen.BalancerStatus, len(st.Balancers)),
	}
	if st.OldestPending != nil {
		out.OldestPendingAgeSeconds = nullable.NewNullableWithValue(now.Sub(*st.OldestPending).Seconds())
	}
	if st.LastError != "" {
		out.LastError = &st.LastError
	}
	if st.RedisError != "" {
		out.RedisError = &st.RedisError
	}
	if st.PublishedVersion > 0 {
		out.PublishedVersion = &st.PublishedVersion
	}
	if r := st.LastReconcile; r != nil {
		lr := gen.ReconcileResult{At: r.At.UTC(), Version: r.Version, Checksum: r.Checksum, Matched: r.Matched,
			Drifted: orEmptyStrings(r.Drifted), Repaired: orEmptyStrings(r.Repaired), Unchecked: orEmptyStrings(r.Unchecked)}
		if r.Error != "" {
			lr.Error = &r.Error
		}
		out.LastReconcile = &lr
	}
	if len(st.Faults) > 0 {
		faults := make([]gen.SnapshotFault, len(st.Faults))
		for i, f := range st.Faults {
			faults[i] = gen.SnapshotFault{Key: f.Resource, Field: f.Field, Reason: f.Reason}
		}
		out.Faults = &faults
	}
	for i, b := range st.Balancers {
		out.Balancers[i] = gen.BalancerStatus{InstanceId: b.InstanceID, SnapshotVersion: b.SnapshotVersion,
			Checksum: &b.Checksum, Hostname: &b.Hostname, Version: &b.Version,
			Lag: st.DatabaseVersion - b.SnapshotVersion, LastSeen: b.LastSeen.UTC()}
	}
	return out, nil
}

// BalancerHeartbeat implements gen.StrictServerInterface.
func (a *API) BalancerHeartbeat(ctx context.Context, req gen.BalancerHeartbeatRequestObject) (gen.BalancerHeartbeatResponseObject, error) {
	b := req.Body
	err := a.sync.Heartbeat(ctx, domain.BalancerHeartbeat{InstanceID: b.InstanceId, SnapshotVersion: b.SnapshotVersion,
		Checksum: deref(b.Checksum), Hostname: deref(b.Hostname), Version: deref(b.Version)})
	if err != nil {
		return nil, err
	}
	return gen.BalancerHeartbeat204Response{}, nil
}

func orEmptyStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
