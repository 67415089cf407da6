package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/imports"
)

type rawImportBody struct{}

// importBodyMiddleware keeps the raw body of POST /admin/import for the
// handler: the file is checked by imports.Parse (the parser `ezapi import`
// shares, strict about unknown fields) instead of the schema validator,
// which is far slower on 100,000 keys and the generated decoder, which
// drops unknown fields.
func importBodyMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !isImport(c) {
				return next(c)
			}
			raw, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err // the body limit's 413, or the client went away
			}
			req := c.Request()
			req.Body = io.NopCloser(bytes.NewReader(raw))
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), rawImportBody{}, raw)))
			return next(c)
		}
	}
}

// ImportExport implements gen.StrictServerInterface.
func (a *API) ImportExport(ctx context.Context, req gen.ImportExportRequestObject) (gen.ImportExportResponseObject, error) {
	raw, ok := ctx.Value(rawImportBody{}).([]byte)
	if !ok {
		return nil, fmt.Errorf("import: raw body missing")
	}
	f, err := imports.Parse(raw)
	if err != nil {
		return nil, err
	}
	rep, err := a.imports.Import(ctx, f, req.Params.DryRun != nil && *req.Params.DryRun)
	if err != nil {
		return nil, err
	}
	return gen.ImportExport200JSONResponse(toImportReport(rep)), nil
}

func toImportReport(r imports.Report) gen.ImportReport {
	counts := func(c imports.Counts) gen.ImportCounts {
		return gen.ImportCounts{Imported: c.Imported, Existing: c.Existing, Skipped: c.Skipped}
	}
	ds := make([]gen.ImportDecision, len(r.Decisions))
	for i, d := range r.Decisions {
		ds[i] = gen.ImportDecision{Record: d.Record, Name: d.Name, Outcome: gen.ImportDecisionOutcome(d.Outcome),
			Message: d.Message}
	}
	src := gen.ImportSource{Type: r.Source.Type, Version: r.Source.Version, ExportedAt: nullable.NewNullNullable[time.Time]()}
	if !r.Source.ExportedAt.IsZero() {
		src.ExportedAt = nullable.NewNullableWithValue(r.Source.ExportedAt)
	}
	return gen.ImportReport{DryRun: r.DryRun, Source: src, FileVersion: r.FileVersion, Providers: counts(r.Providers),
		Masters: counts(r.Masters), Keys: counts(r.Keys), Bindings: counts(r.Bindings), Decisions: ds,
		ExportWarnings: r.ExportWarnings}
}
