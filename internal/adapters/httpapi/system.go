package httpapi

import (
	"context"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
)

// GetLivez implements gen.StrictServerInterface.
func (a *API) GetLivez(ctx context.Context, _ gen.GetLivezRequestObject) (gen.GetLivezResponseObject, error) {
	return gen.GetLivez200JSONResponse{Status: gen.LivenessStatusOk}, nil
}

// GetReadyz implements gen.StrictServerInterface.
func (a *API) GetReadyz(ctx context.Context, _ gen.GetReadyzRequestObject) (gen.GetReadyzResponseObject, error) {
	r := a.health.Ready(ctx)
	body := toReadiness(r)
	if !r.Ready {
		return gen.GetReadyz503JSONResponse(body), nil
	}
	return gen.GetReadyz200JSONResponse(body), nil
}

// GetHealth implements gen.StrictServerInterface.
func (a *API) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	rep := a.health.Health(ctx)
	body := toHealth(rep)
	if body.Status == gen.HealthStatusUnhealthy {
		return gen.GetHealth503JSONResponse(body), nil
	}
	return gen.GetHealth200JSONResponse(body), nil
}

// GetVersion implements gen.StrictServerInterface.
func (a *API) GetVersion(ctx context.Context, _ gen.GetVersionRequestObject) (gen.GetVersionResponseObject, error) {
	b := a.health.Build()
	return gen.GetVersion200JSONResponse{Version: b.Version, Commit: b.Commit, BuildTime: b.BuildTime, GoVersion: b.GoVersion}, nil
}
