package httpapi

import (
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// convert.go: the only place where domain types become API DTOs and back.

func toDependencyChecks(in map[string]domain.DependencyHealth) map[string]gen.DependencyHealth {
	out := make(map[string]gen.DependencyHealth, len(in))
	for name, d := range in {
		dh := gen.DependencyHealth{
			Status:    gen.DependencyHealthStatusDown,
			LatencyMs: float64(d.Latency.Microseconds()) / 1000,
			Critical:  d.Critical,
		}
		if d.Up {
			dh.Status = gen.DependencyHealthStatusUp
		}
		if d.Err != "" {
			e := d.Err
			dh.Error = &e
		}
		out[name] = dh
	}
	return out
}

func toHealth(r domain.HealthReport) gen.Health {
	started := r.StartedAt.UTC()
	return gen.Health{
		Status:        gen.HealthStatus(r.Status),
		Version:       r.Version,
		UptimeSeconds: r.Uptime.Seconds(),
		StartedAt:     &started,
		Checks:        toDependencyChecks(r.Checks),
	}
}

func toReadiness(r domain.Readiness) gen.Readiness {
	out := gen.Readiness{Status: gen.ReadinessStatusReady, Checks: toDependencyChecks(r.Checks)}
	if !r.Ready {
		out.Status = gen.ReadinessStatusNotReady
		reason := r.Reason
		out.Reason = &reason
	}
	return out
}

// nullableOf is p's value, or an explicit JSON null.
func nullableOf[T any](p *T) nullable.Nullable[T] {
	if p == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*p)
}

// nullableTime is t in UTC, or an explicit JSON null.
func nullableTime(t *time.Time) nullable.Nullable[time.Time] {
	if t == nil {
		return nullable.NewNullNullable[time.Time]()
	}
	return nullable.NewNullableWithValue(t.UTC())
}

func toPrincipal(p domain.Principal) gen.Principal {
	out := gen.Principal{Kind: gen.PrincipalKind(p.Kind), Id: p.ID, Name: p.Name, Role: gen.Role(p.Role)}
	out.MasterId = nullable.NewNullNullable[int64]()
	if p.IsMaster() {
		out.MasterId = nullable.NewNullableWithValue(p.MasterID)
	}
	out.ExpiresAt = nullable.NewNullNullable[time.Time]()
	if !p.ExpiresAt.IsZero() {
		out.ExpiresAt = nullableTime(&p.ExpiresAt)
	}
	return out
}

func toOperator(o domain.Operator) gen.Operator {
	return gen.Operator{
		Id: o.ID, Username: o.Username, Role: gen.OperatorRole(o.Role), Status: gen.OperatorStatus(o.Status),
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), LastLoginAt: nullableTime(o.LastLoginAt),
	}
}

func toOperatorPatch(r gen.UpdateOperatorRequest) domain.OperatorPatch {
	var p domain.OperatorPatch
	p.Password = r.Password
	if r.Role != nil {
		role := domain.Role(*r.Role)
		p.Role = &role
	}
	if r.Status != nil {
		st := domain.OperatorStatus(*r.Status)
		p.Status = &st
	}
	return p
}

func toServiceToken(t domain.ServiceToken, now time.Time) gen.ServiceToken {
	return gen.ServiceToken{
		Id: t.ID, Name: t.Name, Role: gen.ServiceTokenRole(t.Role), Prefix: t.Prefix,
		Status: gen.ServiceTokenStatus(t.Status(now)), CreatedAt: t.CreatedAt.UTC(), CreatedBy: nullableOf(t.CreatedBy),
		ExpiresAt: nullableTime(t.ExpiresAt), RevokedAt: nullableTime(t.RevokedAt), LastUsedAt: nullableTime(t.LastUsedAt),
	}
}
