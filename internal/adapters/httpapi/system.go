package httpapi

import (
	"context"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// publicCheckError replaces a dependency's error text for anonymous callers:
// "dial tcp 10.0.0.5:5432: …" maps the network for an attacker. The details
// go to the log and to authenticated callers.
const publicCheckError = "unavailable"

// redactChecks hides dependency error details unless the caller is
// authenticated, logging what it hides.
func (a *API) redactChecks(ctx context.Context, checks map[string]domain.DependencyHealth) {
	if _, ok := domain.PrincipalFrom(ctx); ok {
		return
	}
	for name, c := range checks {
		if c.Err == "" {
			continue
		}
		if a.logger != nil {
			a.logger.WarnContext(ctx, "dependency check failed", "dependency", name, "error", c.Err,
				"request_id", domain.RequestMetaFrom(ctx).RequestID)
		}
		c.Err = publicCheckError
		checks[name] = c
	}
}

// GetLivez implements gen.StrictServerInterface.
func (a *API) GetLivez(ctx context.Context, _ gen.GetLivezRequestObject) (gen.GetLivezResponseObject, error) {
	return gen.GetLivez200JSONResponse{Status: gen.LivenessStatusOk}, nil
}

// GetReadyz implements gen.StrictServerInterface.
func (a *API) GetReadyz(ctx context.Context, _ gen.GetReadyzRequestObject) (gen.GetReadyzResponseObject, error) {
	r := a.health.Ready(ctx)
	a.redactChecks(ctx, r.Checks)
	body := toReadiness(r)
	if !r.Ready {
		return gen.GetReadyz503JSONResponse(body), nil
	}
	return gen.GetReadyz200JSONResponse(body), nil
}

// GetHealth implements gen.StrictServerInterface.
func (a *API) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	rep := a.health.Health(ctx)
	a.redactChecks(ctx, rep.Checks)
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
