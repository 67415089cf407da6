package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/logs"
)

// IngestLogs implements gen.StrictServerInterface. The server routes POST
// /logs to ingestLogsStream, which decodes the body in one pass; this
// method serves callers of the generated interface with the same rules.
func (a *API) IngestLogs(ctx context.Context, req gen.IngestLogsRequestObject) (gen.IngestLogsResponseObject, error) {
	var body bytes.Buffer
	body.WriteByte('[')
	for i, raw := range *req.Body {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(raw)
	}
	body.WriteByte(']')
	res, err := a.ingestLogs(ctx, &body)
	if err != nil {
		return nil, err
	}
	if res.Queued {
		return gen.IngestLogs202JSONResponse(toIngestResult(res)), nil
	}
	return gen.IngestLogs200JSONResponse(toIngestResult(res)), nil
}

// ingestLogsStream serves POST /logs: the body is decoded record by record
// straight into domain records (see decodeLogBatch), never held as a
// second, raw copy per record.
func (a *API) ingestLogsStream(c echo.Context) error {
	if !strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON) {
		return echo.ErrUnsupportedMediaType // as the generated handler's binder answers
	}
	res, err := a.ingestLogs(c.Request().Context(), c.Request().Body)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Queued {
		status = http.StatusAccepted
	}
	return c.JSON(status, toIngestResult(res))
}

func (a *API) ingestLogs(ctx context.Context, body io.Reader) (domain.IngestResult, error) {
	batch, err := decodeLogBatch(body, a.logs.MaxBatch())
	if errors.Is(err, logs.ErrBatchTooLarge) {
		return domain.IngestResult{}, &ProblemError{Status: http.StatusRequestEntityTooLarge, Detail: err.Error(), Cause: err}
	}
	if err != nil {
		return domain.IngestResult{}, badLogBody(err)
	}
	res, err := a.logs.Ingest(ctx, batch)
	if errors.Is(err, logs.ErrBatchTooLarge) {
		return domain.IngestResult{}, &ProblemError{Status: http.StatusRequestEntityTooLarge, Detail: err.Error(), Cause: err}
	}
	return res, err
}

func toIngestResult(res domain.IngestResult) gen.LogIngestResult {
	body := gen.LogIngestResult{Accepted: res.Accepted, Duplicates: res.Duplicates, Rejected: make([]gen.RejectedRecord, len(res.Rejected))}
	for i, r := range res.Rejected {
		errs := make([]gen.FieldError, len(r.Fields))
		for j, f := range r.Fields {
			errs[j] = gen.FieldError{Field: f.Field, Message: f.Message}
		}
		body.Rejected[i] = gen.RejectedRecord{Index: r.Index, Errors: errs}
	}
	return body
}

const logCursorPrefix = "log:"

func decodeLogCursor(c *gen.Cursor) (*time.Time, int64, error) {
	if c == nil || *c == "" {
		return nil, 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*c)
	parts := strings.Split(strings.TrimPrefix(string(raw), logCursorPrefix), ":")
	if err != nil || !strings.HasPrefix(string(raw), logCursorPrefix) || len(parts) != 2 {
		return nil, 0, badCursor()
	}
	ns, err1 := strconv.ParseInt(parts[0], 10, 64)
	id, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, 0, badCursor()
	}
	t := time.Unix(0, ns).UTC()
	return &t, id, nil
}

func badCursor() error {
	return &ProblemError{Status: http.StatusBadRequest, Detail: "cursor: not a cursor from this API",
		Fields: []domain.FieldError{{Field: "cursor", Message: "not a cursor from this API"}}}
}

// ListLogs implements gen.StrictServerInterface.
func (a *API) ListLogs(ctx context.Context, req gen.ListLogsRequestObject) (gen.ListLogsResponseObject, error) {
	p := req.Params
	before, beforeID, err := decodeLogCursor(p.Cursor)
	if err != nil {
		return nil, err
	}
	limit := defaultLimit
	if p.Limit != nil {
		limit = int(*p.Limit)
	}
	f := domain.LogFilter{From: p.From, To: p.To, KeyID: p.KeyId, MasterID: p.MasterId, Model: deref(p.Model),
		ProviderID: p.ProviderId, RequestID: deref(p.RequestId), BeforeAt: before, BeforeID: beforeID, Limit: limit + 1}
	if p.StatusClass != nil {
		f.StatusClass = int(string(*p.StatusClass)[0] - '0')
	}
	recs, err := a.logs.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := gen.ListLogs200JSONResponse{Items: []gen.LogRecordView{}, NextCursor: nullable.NewNullNullable[gen.NextCursor]()}
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[len(recs)-1]
		c := base64.RawURLEncoding.EncodeToString([]byte(logCursorPrefix + strconv.FormatInt(last.CreatedAt.UnixNano(), 10) +
			":" + strconv.FormatInt(last.ID, 10)))
		out.NextCursor = nullable.NewNullableWithValue(c)
	}
	for _, r := range recs {
		out.Items = append(out.Items, toLogView(r))
	}
	return out, nil
}

func toLogView(r domain.LogRecord) gen.LogRecordView {
	v := gen.LogRecordView{
		Id: r.ID, RequestId: r.RequestID, CreatedAt: r.CreatedAt.UTC(), KeyId: nullableOf(r.KeyID), MasterId: nullableOf(r.MasterID),
		Namespace: &r.Namespace, Model: &r.Model, ProviderId: nullableOf(r.ProviderID), UpstreamModel: &r.UpstreamModel,
		StatusCode: int32(r.StatusCode), PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		CachedTokens: r.CachedTokens, Stream: r.Stream, ClientIp: &r.ClientIP, Error: &r.Error, BalancerId: &r.BalancerID,
	}
	lat, ttft := int32(r.LatencyMS), int32(r.TTFTMS)
	v.LatencyMs, v.TtftMs = &lat, &ttft
	if r.CostUSD != nil {
		v.CostUsd = *r.CostUSD
	}
	return v
}

// GetUsageStats implements gen.StrictServerInterface.
func (a *API) GetUsageStats(ctx context.Context, req gen.GetUsageStatsRequestObject) (gen.GetUsageStatsResponseObject, error) {
	p := req.Params
	rows, err := a.logs.Usage(ctx, p.From, p.To, domain.UsageGroup(p.GroupBy), p.MasterId)
	if err != nil {
		return nil, err
	}
	out := gen.GetUsageStats200JSONResponse{GroupBy: string(p.GroupBy), From: p.From.UTC(), To: p.To.UTC(), Rows: make([]gen.UsageRow, len(rows))}
	for i, r := range rows {
		out.Rows[i] = gen.UsageRow{Group: r.Group, Requests: r.Requests, Errors: r.Errors, PromptTokens: r.PromptTokens,
			CompletionTokens: r.CompletionTokens, CostUsd: r.CostUSD, AvgLatencyMs: r.AvgLatencyMS, MaxLatencyMs: r.MaxLatencyMS}
	}
	return out, nil
}
