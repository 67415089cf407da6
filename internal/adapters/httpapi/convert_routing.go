package httpapi

import (
	"strconv"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/bindings"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/models"
	"github.com/ez-api/ez-api/internal/core/providers"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func intPtr(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// field turns a PATCH field (absent / null / value) into a domain.Field.
func field[T any](n nullable.Nullable[T]) domain.Field[T] {
	if !n.IsSpecified() {
		return domain.Field[T]{}
	}
	if n.IsNull() {
		return domain.Cleared[T]()
	}
	return domain.SetTo(n.MustGet())
}

func fieldInt(n nullable.Nullable[int32]) domain.Field[int] {
	f := field(n)
	if f.Value == nil {
		return domain.Field[int]{Set: f.Set}
	}
	return domain.SetTo(int(*f.Value))
}

func optString(s string) nullable.Nullable[string] {
	if s == "" {
		return nullable.NewNullNullable[string]()
	}
	return nullable.NewNullableWithValue(s)
}

func toProvider(p domain.Provider) gen.Provider {
	return gen.Provider{
		Id: p.ID, Name: p.Name, Type: gen.ProviderType(p.Type), BaseUrl: p.BaseURL, ApiKey: p.APIKeyMask,
		GoogleProject: optString(p.GoogleProject), GoogleLocation: optString(p.GoogleLocation),
		Group: p.Group, GroupId: p.GroupID, Models: p.Models, Weight: int32(p.Weight), Priority: int32(p.Priority),
		Status: gen.ProviderStatus(p.Status), AutoBan: p.AutoBan, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
}

func fromCreateProvider(r gen.CreateProviderRequest) domain.Provider {
	p := domain.Provider{
		Name: r.Name, Type: string(r.Type), BaseURL: deref(r.BaseUrl), APIKey: deref(r.ApiKey),
		GoogleProject: deref(r.GoogleProject), GoogleLocation: deref(r.GoogleLocation),
		Group: deref(r.Group), Models: r.Models, Weight: 1, AutoBan: deref(r.AutoBan),
		Status: domain.ProviderStatus(deref(r.Status)),
	}
	if r.Weight != nil {
		p.Weight = int(*r.Weight)
	}
	if r.Priority != nil {
		p.Priority = int(*r.Priority)
	}
	return p
}

func fromUpdateProvider(r gen.UpdateProviderRequest) providers.Patch {
	p := providers.Patch{
		Name: r.Name, BaseURL: field(r.BaseUrl), APIKey: field(r.ApiKey),
		GoogleProject: field(r.GoogleProject), GoogleLocation: field(r.GoogleLocation),
		Group: r.Group, Models: (*[]string)(r.Models), Weight: intPtr(r.Weight), Priority: intPtr(r.Priority), AutoBan: r.AutoBan,
	}
	if r.Type != nil {
		t := string(*r.Type)
		p.Type = &t
	}
	if r.Status != nil {
		s := domain.ProviderStatus(*r.Status)
		p.Status = &s
	}
	return p
}

func nullableInt(p *int) nullable.Nullable[int32] {
	if p == nil {
		return nullable.NewNullNullable[int32]()
	}
	return nullable.NewNullableWithValue(int32(*p))
}

func toModel(m domain.Model) gen.Model {
	return gen.Model{
		Id: m.ID, Namespace: m.Namespace, Name: m.Name, Key: m.Key(), Kind: gen.ModelKind(m.Kind),
		ContextWindow: nullableInt(m.ContextWindow), MaxOutputTokens: nullableInt(m.MaxOutputTokens),
		InputPricePerMtok: m.InputPricePerMTok, OutputPricePerMtok: m.OutputPricePerMTok,
		SupportsVision: m.SupportsVision, SupportsFunctions: m.SupportsFunctions, SupportsToolChoice: m.SupportsToolChoice,
		SupportsFim: m.SupportsFIM, SupportsStream: m.SupportsStream, Status: gen.ResourceStatus(m.Status),
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
}

func fromCreateModel(r gen.CreateModelRequest) domain.Model {
	m := domain.Model{
		Namespace: deref(r.Namespace), Name: r.Name, Kind: domain.ModelKind(deref(r.Kind)),
		ContextWindow: intPtr(r.ContextWindow), MaxOutputTokens: intPtr(r.MaxOutputTokens),
		InputPricePerMTok: deref(r.InputPricePerMtok), OutputPricePerMTok: deref(r.OutputPricePerMtok),
		SupportsVision: deref(r.SupportsVision), SupportsFunctions: deref(r.SupportsFunctions),
		SupportsToolChoice: deref(r.SupportsToolChoice), SupportsFIM: deref(r.SupportsFim), SupportsStream: true,
		Status: domain.ResourceStatus(deref(r.Status)),
	}
	if r.SupportsStream != nil {
		m.SupportsStream = *r.SupportsStream
	}
	return m
}

func fromUpdateModel(r gen.UpdateModelRequest) models.Patch {
	p := models.Patch{
		ContextWindow: fieldInt(r.ContextWindow), MaxOutputTokens: fieldInt(r.MaxOutputTokens),
		InputPricePerMTok: r.InputPricePerMtok, OutputPricePerMTok: r.OutputPricePerMtok,
		SupportsVision: r.SupportsVision, SupportsFunctions: r.SupportsFunctions, SupportsToolChoice: r.SupportsToolChoice,
		SupportsFIM: r.SupportsFim, SupportsStream: r.SupportsStream,
	}
	if r.Kind != nil {
		k := domain.ModelKind(*r.Kind)
		p.Kind = &k
	}
	if r.Status != nil {
		s := domain.ResourceStatus(*r.Status)
		p.Status = &s
	}
	return p
}

func fromCandidates(in gen.BindingCandidates) []domain.BindingCandidate {
	out := make([]domain.BindingCandidate, len(in))
	for i, c := range in {
		out[i] = domain.BindingCandidate{RouteGroup: deref(c.RouteGroup), Weight: 1,
			SelectorType: domain.SelectorType(c.SelectorType), SelectorValue: c.SelectorValue}
		if c.Weight != nil {
			out[i].Weight = int(*c.Weight)
		}
	}
	return out
}

func fromCreateBinding(r gen.CreateBindingRequest) domain.Binding {
	return domain.Binding{Namespace: deref(r.Namespace), PublicModel: r.PublicModel,
		Status: domain.ResourceStatus(deref(r.Status)), Candidates: fromCandidates(r.Candidates)}
}

func fromUpdateBinding(r gen.UpdateBindingRequest) bindings.Patch {
	var p bindings.Patch
	if r.Status != nil {
		s := domain.ResourceStatus(*r.Status)
		p.Status = &s
	}
	if r.Candidates != nil {
		cs := fromCandidates(*r.Candidates)
		p.Candidates = &cs
	}
	return p
}

func toBinding(b bindings.Resolved) gen.Binding {
	out := gen.Binding{
		Id: b.ID, Namespace: b.Namespace, PublicModel: b.PublicModel, Key: b.Key(), Status: gen.ResourceStatus(b.Status),
		CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC(), Candidates: make([]gen.BindingCandidate, len(b.Candidates)),
	}
	for i, c := range b.Candidates {
		gc := gen.BindingCandidate{
			RouteGroup: c.RouteGroup, GroupId: c.GroupID, Weight: int32(c.Weight),
			SelectorType: gen.SelectorType(c.SelectorType), SelectorValue: c.SelectorValue,
			Status: gen.BindingCandidateStatus(c.Resolution.Status), Error: nullable.NewNullNullable[gen.BindingCandidateError](),
			Upstreams: make(map[string]string, len(c.Resolution.Upstreams)),
		}
		if c.Resolution.Error != "" {
			gc.Error = nullable.NewNullableWithValue(gen.BindingCandidateError(c.Resolution.Error))
		}
		if c.Resolution.Detail != "" {
			d := c.Resolution.Detail
			gc.Detail = &d
		}
		for id, m := range c.Resolution.Upstreams {
			gc.Upstreams[strconv.FormatInt(id, 10)] = m
		}
		out.Candidates[i] = gc
	}
	res := gen.BindingResolution{Source: gen.BindingResolutionSource(b.Source), ResolvedAt: b.ResolvedAt.UTC(),
		Version: nullable.NewNullNullable[int64]()}
	if b.Source == domain.ResolutionStored {
		res.Version = nullable.NewNullableWithValue(b.Version)
	}
	out.Resolution = &res
	return out
}
