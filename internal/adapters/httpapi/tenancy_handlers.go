package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// CreateMaster implements gen.StrictServerInterface.
func (a *API) CreateMaster(ctx context.Context, req gen.CreateMasterRequestObject) (gen.CreateMasterResponseObject, error) {
	b := req.Body
	m, tok, err := a.masters.Create(ctx, fromCreateMaster(*b))
	if err != nil {
		return nil, err
	}
	return gen.CreateMaster201JSONResponse{Token: tok, Master: toMaster(m)}, nil
}

// ListMasters implements gen.StrictServerInterface.
func (a *API) ListMasters(ctx context.Context, req gen.ListMastersRequestObject) (gen.ListMastersResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	ms, next, err := a.masters.List(ctx, domain.MasterFilter{Status: domain.MasterStatus(deref(req.Params.Status))}, pg)
	if err != nil {
		return nil, err
	}
	items := make([]gen.Master, len(ms))
	for i, m := range ms {
		items[i] = toMaster(m)
	}
	return gen.ListMasters200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}

// GetMaster implements gen.StrictServerInterface.
func (a *API) GetMaster(ctx context.Context, req gen.GetMasterRequestObject) (gen.GetMasterResponseObject, error) {
	m, err := a.masters.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetMaster200JSONResponse(toMaster(m)), nil
}

// UpdateMaster implements gen.StrictServerInterface.
func (a *API) UpdateMaster(ctx context.Context, req gen.UpdateMasterRequestObject) (gen.UpdateMasterResponseObject, error) {
	m, err := a.masters.Update(ctx, req.Id, fromUpdateMaster(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.UpdateMaster200JSONResponse(toMaster(m)), nil
}

// DeleteMaster implements gen.StrictServerInterface.
func (a *API) DeleteMaster(ctx context.Context, req gen.DeleteMasterRequestObject) (gen.DeleteMasterResponseObject, error) {
	if err := a.masters.Delete(ctx, req.Id, deref(req.Params.Cascade)); err != nil {
		return nil, err
	}
	return gen.DeleteMaster204Response{}, nil
}

// RotateMasterToken implements gen.StrictServerInterface.
func (a *API) RotateMasterToken(ctx context.Context, req gen.RotateMasterTokenRequestObject) (gen.RotateMasterTokenResponseObject, error) {
	m, tok, err := a.masters.RotateToken(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.RotateMasterToken200JSONResponse{Token: tok, Master: toMaster(m)}, nil
}

// IssueMasterKey implements gen.StrictServerInterface.
func (a *API) IssueMasterKey(ctx context.Context, req gen.IssueMasterKeyRequestObject) (gen.IssueMasterKeyResponseObject, error) {
	k, tok, err := a.keys.Create(ctx, req.Id, fromCreateKey(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.IssueMasterKey201JSONResponse{Token: tok, Key: toKey(k, a.clock.Now())}, nil
}

// ListMasterKeys implements gen.StrictServerInterface.
func (a *API) ListMasterKeys(ctx context.Context, req gen.ListMasterKeysRequestObject) (gen.ListMasterKeysResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := domain.KeyFilter{Status: domain.KeyStatus(deref(req.Params.Status)), Group: deref(req.Params.Group)}
	ks, next, err := a.keys.ListOfMaster(ctx, req.Id, f, pg)
	if err != nil {
		return nil, err
	}
	return gen.ListMasterKeys200JSONResponse(a.keyList(ks, next)), nil
}

func (a *API) keyList(ks []domain.Key, next int64) gen.KeyList {
	now := a.clock.Now()
	items := make([]gen.Key, len(ks))
	for i, k := range ks {
		items[i] = toKey(k, now)
	}
	return gen.KeyList{Items: items, NextCursor: nextCursor(next)}
}

// CreateKey implements gen.StrictServerInterface.
func (a *API) CreateKey(ctx context.Context, req gen.CreateKeyRequestObject) (gen.CreateKeyResponseObject, error) {
	k, tok, err := a.keys.Create(ctx, 0, fromCreateKey(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.CreateKey201JSONResponse{Token: tok, Key: toKey(k, a.clock.Now())}, nil
}

// ListKeys implements gen.StrictServerInterface.
func (a *API) ListKeys(ctx context.Context, req gen.ListKeysRequestObject) (gen.ListKeysResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := domain.KeyFilter{MasterID: deref(req.Params.MasterId), Status: domain.KeyStatus(deref(req.Params.Status)), Group: deref(req.Params.Group)}
	ks, next, err := a.keys.List(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	return gen.ListKeys200JSONResponse(a.keyList(ks, next)), nil
}

// GetKey implements gen.StrictServerInterface.
func (a *API) GetKey(ctx context.Context, req gen.GetKeyRequestObject) (gen.GetKeyResponseObject, error) {
	k, err := a.keys.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetKey200JSONResponse(toKey(k, a.clock.Now())), nil
}

// UpdateKey implements gen.StrictServerInterface.
func (a *API) UpdateKey(ctx context.Context, req gen.UpdateKeyRequestObject) (gen.UpdateKeyResponseObject, error) {
	k, err := a.keys.Update(ctx, req.Id, fromUpdateKey(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.UpdateKey200JSONResponse(toKey(k, a.clock.Now())), nil
}

// RevokeKey implements gen.StrictServerInterface.
func (a *API) RevokeKey(ctx context.Context, req gen.RevokeKeyRequestObject) (gen.RevokeKeyResponseObject, error) {
	if err := a.keys.Revoke(ctx, req.Id); err != nil {
		return nil, err
	}
	return gen.RevokeKey204Response{}, nil
}

// RotateKey implements gen.StrictServerInterface.
func (a *API) RotateKey(ctx context.Context, req gen.RotateKeyRequestObject) (gen.RotateKeyResponseObject, error) {
	grace := 0
	if req.Body != nil && req.Body.GraceSeconds != nil {
		grace = int(*req.Body.GraceSeconds)
	}
	k, tok, err := a.keys.Rotate(ctx, req.Id, grace)
	if err != nil {
		return nil, err
	}
	return gen.RotateKey200JSONResponse{Token: tok, Key: toKey(k, a.clock.Now())}, nil
}

// GetFeatures implements gen.StrictServerInterface.
func (a *API) GetFeatures(ctx context.Context, _ gen.GetFeaturesRequestObject) (gen.GetFeaturesResponseObject, error) {
	all, err := a.features.All(ctx)
	if err != nil {
		return nil, err
	}
	return gen.GetFeatures200JSONResponse(all), nil
}

// PutFeatures implements gen.StrictServerInterface.
func (a *API) PutFeatures(ctx context.Context, req gen.PutFeaturesRequestObject) (gen.PutFeaturesResponseObject, error) {
	updates := make(map[string]*string, len(*req.Body))
	v := &domain.ValidationError{}
	for name, raw := range *req.Body {
		b, err := raw.MarshalJSON()
		if err != nil {
			return nil, err
		}
		if string(bytes.TrimSpace(b)) == "null" {
			updates[name] = nil // null removes the flag
			continue
		}
		val, ok := canonicalFlag(b)
		if !ok {
			v.Add(name, "must be a string, boolean, number or null")
			continue
		}
		updates[name] = &val
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	all, err := a.features.Put(ctx, updates)
	if err != nil {
		return nil, err
	}
	return gen.PutFeatures200JSONResponse(all), nil
}

// canonicalFlag renders a JSON scalar as the flag's string value: strings as
// they are, booleans as true/false, numbers in shortest form.
func canonicalFlag(raw []byte) (string, bool) {
	var v any
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		f, err := x.Float64()
		if err != nil {
			return "", false
		}
		return strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}

// ListAudit implements gen.StrictServerInterface.
func (a *API) ListAudit(ctx context.Context, req gen.ListAuditRequestObject) (gen.ListAuditResponseObject, error) {
	pg, err := page(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	p := req.Params
	f := domain.AuditFilter{ActorID: p.ActorId, ResourceType: deref(p.ResourceType), ResourceID: deref(p.ResourceId),
		Action: deref(p.Action), From: p.From, To: p.To, Before: pg.After, Limit: pg.Limit}
	if p.ActorType != nil {
		f.ActorType = string(*p.ActorType)
	}
	es, next, err := a.audit.List(ctx, f)
	if err != nil {
		return nil, err
	}
	items := make([]gen.AuditEntry, len(es))
	for i, e := range es {
		items[i] = toAuditEntry(e)
	}
	return gen.ListAudit200JSONResponse{Items: items, NextCursor: nextCursor(next)}, nil
}
