package httpapi

import (
	"context"
	"fmt"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// Login implements gen.StrictServerInterface.
func (a *API) Login(ctx context.Context, req gen.LoginRequestObject) (gen.LoginResponseObject, error) {
	s, err := a.login.Login(ctx, req.Body.Username, req.Body.Password)
	if err != nil {
		return nil, err
	}
	return gen.Login200JSONResponse{
		AccessToken: s.AccessToken,
		TokenType:   gen.AccessTokenResponseTokenTypeBearer,
		ExpiresAt:   s.ExpiresAt.UTC(),
	}, nil
}

// GetMe implements gen.StrictServerInterface.
func (a *API) GetMe(ctx context.Context, _ gen.GetMeRequestObject) (gen.GetMeResponseObject, error) {
	p, ok := domain.PrincipalFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("no principal: %w", domain.ErrUnauthenticated)
	}
	return gen.GetMe200JSONResponse(toPrincipal(p)), nil
}

// ListOperators implements gen.StrictServerInterface.
func (a *API) ListOperators(ctx context.Context, req gen.ListOperatorsRequestObject) (gen.ListOperatorsResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	ops, next, err := a.operators.List(ctx, pg)
	if err != nil {
		return nil, err
	}
	items := make([]gen.Operator, len(ops))
	for i, op := range ops {
		items[i] = toOperator(op)
	}
	return gen.ListOperators200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}

// CreateOperator implements gen.StrictServerInterface.
func (a *API) CreateOperator(ctx context.Context, req gen.CreateOperatorRequestObject) (gen.CreateOperatorResponseObject, error) {
	op, err := a.operators.Create(ctx, req.Body.Username, req.Body.Password, domain.Role(req.Body.Role))
	if err != nil {
		return nil, err
	}
	return gen.CreateOperator201JSONResponse(toOperator(op)), nil
}

// GetOperator implements gen.StrictServerInterface.
func (a *API) GetOperator(ctx context.Context, req gen.GetOperatorRequestObject) (gen.GetOperatorResponseObject, error) {
	op, err := a.operators.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetOperator200JSONResponse(toOperator(op)), nil
}

// UpdateOperator implements gen.StrictServerInterface.
func (a *API) UpdateOperator(ctx context.Context, req gen.UpdateOperatorRequestObject) (gen.UpdateOperatorResponseObject, error) {
	op, err := a.operators.Update(ctx, req.Id, toOperatorPatch(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.UpdateOperator200JSONResponse(toOperator(op)), nil
}

// DeleteOperator implements gen.StrictServerInterface.
func (a *API) DeleteOperator(ctx context.Context, req gen.DeleteOperatorRequestObject) (gen.DeleteOperatorResponseObject, error) {
	if err := a.operators.Delete(ctx, req.Id); err != nil {
		return nil, err
	}
	return gen.DeleteOperator204Response{}, nil
}

// ListServiceTokens implements gen.StrictServerInterface.
func (a *API) ListServiceTokens(ctx context.Context, req gen.ListServiceTokensRequestObject) (gen.ListServiceTokensResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	toks, next, err := a.serviceTokens.List(ctx, pg)
	if err != nil {
		return nil, err
	}
	now := a.clock.Now()
	items := make([]gen.ServiceToken, len(toks))
	for i, t := range toks {
		items[i] = toServiceToken(t, now)
	}
	return gen.ListServiceTokens200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}

// CreateServiceToken implements gen.StrictServerInterface.
func (a *API) CreateServiceToken(ctx context.Context, req gen.CreateServiceTokenRequestObject) (gen.CreateServiceTokenResponseObject, error) {
	t, plain, err := a.serviceTokens.Create(ctx, req.Body.Name, domain.Role(req.Body.Role), req.Body.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return gen.CreateServiceToken201JSONResponse{Token: plain, ServiceToken: toServiceToken(t, a.clock.Now())}, nil
}

// RevokeServiceToken implements gen.StrictServerInterface.
func (a *API) RevokeServiceToken(ctx context.Context, req gen.RevokeServiceTokenRequestObject) (gen.RevokeServiceTokenResponseObject, error) {
	if err := a.serviceTokens.Revoke(ctx, req.Id); err != nil {
		return nil, err
	}
	return gen.RevokeServiceToken204Response{}, nil
}

// LogoutEverywhere implements gen.StrictServerInterface.
func (a *API) LogoutEverywhere(ctx context.Context, _ gen.LogoutEverywhereRequestObject) (gen.LogoutEverywhereResponseObject, error) {
	p, ok := domain.PrincipalFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("no principal: %w", domain.ErrUnauthenticated)
	}
	if p.Kind != domain.PrincipalOperator {
		return nil, domain.NewValidationError("credential", "only operator sessions can be ended; revoke a service or master token with its own endpoint")
	}
	if err := a.operators.RevokeSessions(ctx, p.ID); err != nil {
		return nil, err
	}
	return gen.LogoutEverywhere204Response{}, nil
}
