package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/imports"
)

// ImportExport implements gen.StrictServerInterface.
func (a *API) ImportExport(ctx context.Context, req gen.ImportExportRequestObject) (gen.ImportExportResponseObject, error) {
	// The body was validated against ExportFile; imports.Parse is the one
	// parser the CLI shares, so the generated type goes back to its JSON.
	raw, err := json.Marshal(req.Body)
	if err != nil {
		return nil, fmt.Errorf("re-encode import body: %w", err)
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
