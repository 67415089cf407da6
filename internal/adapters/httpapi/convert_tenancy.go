package httpapi

import (
	"bytes"
	"io"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/keys"
	"github.com/ez-api/ez-api/internal/core/masters"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func toMaster(m domain.Master) gen.Master {
	return gen.Master{
		Id: m.ID, Name: m.Name, Group: m.Group, Status: gen.MasterStatus(m.Status), TokenPrefix: m.TokenPrefix,
		Limits: gen.MasterLimits{MaxKeys: int32(m.MaxKeys), DefaultRpm: int32(m.DefaultRPM), DefaultTpm: int32(m.DefaultTPM),
			MaxRpm: int32(m.MaxRPM), MaxTpm: int32(m.MaxTPM), MaxQuotaTokens: nullableOf(m.MaxQuotaTokens),
			MaxBudgetUsd: nullableOf(m.MaxBudgetUSD), BudgetPeriod: gen.BudgetPeriod(m.BudgetPeriod),
			MaxKeyTtlSeconds: m.MaxKeyTTLSeconds, AllowedModels: nonNilStrings(m.AllowedModels)},
		Namespaces: nonNilStrings(m.Namespaces), DefaultNamespace: m.DefaultNamespace,
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
}

func fromCreateMaster(b gen.CreateMasterRequest) domain.Master {
	m := domain.Master{Name: b.Name, Group: deref(b.Group),
		MaxKeys: int(deref(b.MaxKeys)), DefaultRPM: int(deref(b.DefaultRpm)), DefaultTPM: int(deref(b.DefaultTpm)),
		MaxRPM: int(deref(b.MaxRpm)), MaxTPM: int(deref(b.MaxTpm)), MaxQuotaTokens: field(b.MaxQuotaTokens).Value,
		MaxBudgetUSD: field(b.MaxBudgetUsd).Value, MaxKeyTTLSeconds: deref(b.MaxKeyTtlSeconds),
		AllowedModels: deref(b.AllowedModels), Namespaces: deref(b.Namespaces), DefaultNamespace: deref(b.DefaultNamespace)}
	if b.BudgetPeriod != nil {
		m.BudgetPeriod = domain.BudgetPeriod(*b.BudgetPeriod)
	}
	return m
}

func fromUpdateMaster(r gen.UpdateMasterRequest) masters.Patch {
	p := masters.Patch{Name: r.Name, Group: r.Group, MaxKeys: intPtr(r.MaxKeys), DefaultRPM: intPtr(r.DefaultRpm), DefaultTPM: intPtr(r.DefaultTpm),
		MaxRPM: intPtr(r.MaxRpm), MaxTPM: intPtr(r.MaxTpm), MaxQuotaTokens: field(r.MaxQuotaTokens),
		MaxBudgetUSD: field(r.MaxBudgetUsd), MaxKeyTTLSeconds: r.MaxKeyTtlSeconds, AllowedModels: r.AllowedModels,
		Namespaces: r.Namespaces, DefaultNamespace: r.DefaultNamespace}
	if r.Status != nil {
		s := domain.MasterStatus(*r.Status)
		p.Status = &s
	}
	if r.BudgetPeriod != nil {
		bp := domain.BudgetPeriod(*r.BudgetPeriod)
		p.BudgetPeriod = &bp
	}
	return p
}

func toKey(k domain.Key, now time.Time) gen.Key {
	return gen.Key{
		Id: k.ID, MasterId: k.MasterID, Name: k.Name, Prefix: k.Prefix, Group: k.Group,
		AllowedModels: nonNilStrings(k.AllowedModels), AllowedIps: nonNilStrings(k.AllowedIPs),
		RpmLimit: int32(k.RPMLimit), TpmLimit: int32(k.TPMLimit),
		QuotaTokens: nullableOf(k.QuotaTokens), BudgetUsd: nullableOf(k.BudgetUSD),
		BudgetPeriod: gen.BudgetPeriod(k.BudgetPeriod), ExpiresAt: nullableTime(k.ExpiresAt),
		Status: gen.KeyStatus(k.EffectiveStatus(now)), IssuedBy: k.IssuedBy,
		Namespaces: nonNilStrings(k.Namespaces), DefaultNamespace: k.DefaultNamespace,
		Usage:      gen.KeyUsage{Tokens: k.UsedTokens, CostUsd: k.UsedUSD},
		GraceUntil: nullableTime(k.GraceUntil(now)),
		CreatedAt:  k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(),
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func fromCreateKey(r gen.CreateKeyRequest) keys.Input {
	in := keys.Input{
		Name: r.Name, Group: deref(r.Group), AllowedModels: deref(r.AllowedModels), AllowedIPs: deref(r.AllowedIps),
		QuotaTokens: r.QuotaTokens, BudgetUSD: r.BudgetUsd, ExpiresAt: r.ExpiresAt,
		Namespaces: deref(r.Namespaces), DefaultNamespace: deref(r.DefaultNamespace),
	}
	if r.RpmLimit != nil {
		in.RPMLimit = int(*r.RpmLimit)
	}
	if r.TpmLimit != nil {
		in.TPMLimit = int(*r.TpmLimit)
	}
	if r.BudgetPeriod != nil {
		in.BudgetPeriod = domain.BudgetPeriod(*r.BudgetPeriod)
	}
	return in
}

func fromUpdateKey(r gen.UpdateKeyRequest) keys.Patch {
	p := keys.Patch{
		Name: r.Name, Group: r.Group, AllowedModels: r.AllowedModels, AllowedIPs: r.AllowedIps,
		RPMLimit: fieldInt(r.RpmLimit), TPMLimit: fieldInt(r.TpmLimit), QuotaTokens: field(r.QuotaTokens),
		BudgetUSD: field(r.BudgetUsd), ExpiresAt: field(r.ExpiresAt),
		Namespaces: r.Namespaces, DefaultNamespace: r.DefaultNamespace,
	}
	if r.BudgetPeriod != nil {
		bp := domain.BudgetPeriod(*r.BudgetPeriod)
		p.BudgetPeriod = &bp
	}
	if r.Status != nil {
		s := domain.KeyStatus(*r.Status)
		p.Status = &s
	}
	return p
}

func toAuditEntry(e domain.AuditEntry) gen.AuditEntry {
	out := gen.AuditEntry{
		Id: e.ID, At: e.At.UTC(), Actor: gen.AuditActor{Type: gen.AuditActorType(e.Actor.Type), Id: e.Actor.ID},
		Action: e.Action, ResourceType: e.ResourceType, ResourceId: e.ResourceID, RequestId: e.RequestID, ClientIp: e.ClientIP,
		Changes: nullable.NewNullNullable[map[string]any](),
	}
	if e.Changes != nil {
		out.Changes = nullable.NewNullableWithValue(e.Changes)
	}
	return out
}
