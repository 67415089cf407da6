package httpapi

import (
	"context"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// CreateProvider implements gen.StrictServerInterface.
func (a *API) CreateProvider(ctx context.Context, req gen.CreateProviderRequestObject) (gen.CreateProviderResponseObject, error) {
	p, err := a.providers.Create(ctx, fromCreateProvider(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.CreateProvider201JSONResponse(toProvider(p)), nil
}

// ListProviders implements gen.StrictServerInterface.
func (a *API) ListProviders(ctx context.Context, req gen.ListProvidersRequestObject) (gen.ListProvidersResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := domain.ProviderFilter{Group: deref(req.Params.Group), NamePrefix: deref(req.Params.NamePrefix)}
	if req.Params.Type != nil {
		f.Type = string(*req.Params.Type)
	}
	if req.Params.Status != nil {
		f.Status = domain.ProviderStatus(*req.Params.Status)
	}
	ps, next, err := a.providers.List(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	items := make([]gen.Provider, len(ps))
	for i, p := range ps {
		items[i] = toProvider(p)
	}
	return gen.ListProviders200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}

// GetProvider implements gen.StrictServerInterface.
func (a *API) GetProvider(ctx context.Context, req gen.GetProviderRequestObject) (gen.GetProviderResponseObject, error) {
	p, err := a.providers.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetProvider200JSONResponse(toProvider(p)), nil
}

// UpdateProvider implements gen.StrictServerInterface.
func (a *API) UpdateProvider(ctx context.Context, req gen.UpdateProviderRequestObject) (gen.UpdateProviderResponseObject, error) {
	p, err := a.providers.Update(ctx, req.Id, fromUpdateProvider(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.UpdateProvider200JSONResponse(toProvider(p)), nil
}

// DeleteProvider implements gen.StrictServerInterface.
func (a *API) DeleteProvider(ctx context.Context, req gen.DeleteProviderRequestObject) (gen.DeleteProviderResponseObject, error) {
	if err := a.providers.Delete(ctx, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteProvider204Response{}, nil
}

// CreateModel implements gen.StrictServerInterface.
func (a *API) CreateModel(ctx context.Context, req gen.CreateModelRequestObject) (gen.CreateModelResponseObject, error) {
	m, err := a.models.Create(ctx, fromCreateModel(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.CreateModel201JSONResponse(toModel(m)), nil
}

// ListModels implements gen.StrictServerInterface.
func (a *API) ListModels(ctx context.Context, req gen.ListModelsRequestObject) (gen.ListModelsResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := domain.ModelFilter{Namespace: deref(req.Params.Namespace)}
	if req.Params.Kind != nil {
		f.Kind = domain.ModelKind(*req.Params.Kind)
	}
	if req.Params.Status != nil {
		f.Status = domain.ResourceStatus(*req.Params.Status)
	}
	ms, next, err := a.models.List(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	items := make([]gen.Model, len(ms))
	for i, m := range ms {
		items[i] = toModel(m)
	}
	return gen.ListModels200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}

// GetModel implements gen.StrictServerInterface.
func (a *API) GetModel(ctx context.Context, req gen.GetModelRequestObject) (gen.GetModelResponseObject, error) {
	m, err := a.models.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetModel200JSONResponse(toModel(m)), nil
}

// UpdateModel implements gen.StrictServerInterface.
func (a *API) UpdateModel(ctx context.Context, req gen.UpdateModelRequestObject) (gen.UpdateModelResponseObject, error) {
	m, err := a.models.Update(ctx, req.Id, fromUpdateModel(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.UpdateModel200JSONResponse(toModel(m)), nil
}

// DeleteModel implements gen.StrictServerInterface.
func (a *API) DeleteModel(ctx context.Context, req gen.DeleteModelRequestObject) (gen.DeleteModelResponseObject, error) {
	if err := a.models.Delete(ctx, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteModel204Response{}, nil
}

// CreateBinding implements gen.StrictServerInterface.
func (a *API) CreateBinding(ctx context.Context, req gen.CreateBindingRequestObject) (gen.CreateBindingResponseObject, error) {
	b, err := a.bindings.Create(ctx, fromCreateBinding(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.CreateBinding201JSONResponse(toBinding(b)), nil
}

// ListBindings implements gen.StrictServerInterface.
func (a *API) ListBindings(ctx context.Context, req gen.ListBindingsRequestObject) (gen.ListBindingsResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := domain.BindingFilter{Namespace: deref(req.Params.Namespace)}
	if req.Params.Status != nil {
		f.Status = domain.ResourceStatus(*req.Params.Status)
	}
	bs, next, err := a.bindings.List(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	items := make([]gen.Binding, len(bs))
	for i, b := range bs {
		items[i] = toBinding(b)
	}
	return gen.ListBindings200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}

// GetBinding implements gen.StrictServerInterface.
func (a *API) GetBinding(ctx context.Context, req gen.GetBindingRequestObject) (gen.GetBindingResponseObject, error) {
	b, err := a.bindings.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetBinding200JSONResponse(toBinding(b)), nil
}

// UpdateBinding implements gen.StrictServerInterface.
func (a *API) UpdateBinding(ctx context.Context, req gen.UpdateBindingRequestObject) (gen.UpdateBindingResponseObject, error) {
	b, err := a.bindings.Update(ctx, req.Id, fromUpdateBinding(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.UpdateBinding200JSONResponse(toBinding(b)), nil
}

// DeleteBinding implements gen.StrictServerInterface.
func (a *API) DeleteBinding(ctx context.Context, req gen.DeleteBindingRequestObject) (gen.DeleteBindingResponseObject, error) {
	if err := a.bindings.Delete(ctx, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteBinding204Response{}, nil
}
