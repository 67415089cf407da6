package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/logs"
)

// logRecordDTO is one posted record; pointers tell absent from zero.
type logRecordDTO struct {
	RequestID        string   `json:"request_id"`
	CreatedAt        string   `json:"created_at"`
	KeyID            *int64   `json:"key_id"`
	MasterID         *int64   `json:"master_id"`
	Namespace        string   `json:"namespace"`
	Model            string   `json:"model"`
	ProviderID       *int64   `json:"provider_id"`
	UpstreamModel    string   `json:"upstream_model"`
	StatusCode       int      `json:"status_code"`
	LatencyMS        int      `json:"latency_ms"`
	TTFTMS           int      `json:"ttft_ms"`
	PromptTokens     int64    `json:"prompt_tokens"`
	CompletionTokens int64    `json:"completion_tokens"`
	CachedTokens     int64    `json:"cached_tokens"`
	CostUSD          *float64 `json:"cost_usd"`
	Stream           bool     `json:"stream"`
	ClientIP         string   `json:"client_ip"`
	Error            string   `json:"error"`
	BalancerID       string   `json:"balancer_id"`
}

// decodeLogRecord decodes one record strictly; the error names the field.
func decodeLogRecord(raw json.RawMessage) (domain.LogRecord, []domain.FieldError) {
	var dto logRecordDTO
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&dto); err != nil {
		field, msg := "record", "not a log record object"
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			field, msg = te.Field, "has the wrong type ("+te.Value+")"
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field, msg = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a log record field"
		}
		return domain.LogRecord{}, []domain.FieldError{{Field: field, Message: msg}}
	}
	r := domain.LogRecord{RequestID: dto.RequestID, KeyID: dto.KeyID, MasterID: dto.MasterID, Namespace: dto.Namespace,
		Model: dto.Model, ProviderID: dto.ProviderID, UpstreamModel: dto.UpstreamModel, StatusCode: dto.StatusCode,
		LatencyMS: dto.LatencyMS, TTFTMS: dto.TTFTMS, PromptTokens: dto.PromptTokens, CompletionTokens: dto.CompletionTokens,
		CachedTokens: dto.CachedTokens, CostUSD: dto.CostUSD, Stream: dto.Stream, ClientIP: dto.ClientIP, Error: dto.Error,
		BalancerID: dto.BalancerID}
	if dto.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, dto.CreatedAt)
		if err != nil {
			return domain.LogRecord{}, []domain.FieldError{{Field: "created_at", Message: "not an RFC 3339 date-time"}}
		}
		r.CreatedAt = t
	}
	return r, nil
}

// IngestLogs implements gen.StrictServerInterface.
func (a *API) IngestLogs(ctx context.Context, req gen.IngestLogsRequestObject) (gen.IngestLogsResponseObject, error) {
	raws := *req.Body
	records := make([]domain.LogRecord, len(raws))
	var rejected []domain.RejectedRecord
	for i, raw := range raws {
		r, errs := decodeLogRecord(raw)
		if errs != nil {
			rejected = append(rejected, domain.RejectedRecord{Index: i, Fields: errs})
			continue
		}
		records[i] = r
	}
	res, err := a.logs.Ingest(ctx, records, rejected)
	if errors.Is(err, logs.ErrBatchTooLarge) {
		return nil, &ProblemError{Status: http.StatusRequestEntityTooLarge, Detail: err.Error(), Cause: err}
	}
	if err != nil {
		return nil, err
	}
	body := gen.LogIngestResult{Accepted: res.Accepted, Duplicates: res.Duplicates, Rejected: make([]gen.RejectedRecord, len(res.Rejected))}
	for i, r := range res.Rejected {
		errs := make([]gen.FieldError, len(r.Fields))
		for j, f := range r.Fields {
			errs[j] = gen.FieldError{Field: f.Field, Message: f.Message}
		}
		body.Rejected[i] = gen.RejectedRecord{Index: r.Index, Errors: errs}
	}
	if res.Queued {
		return gen.IngestLogs202JSONResponse(body), nil
	}
	return gen.IngestLogs200JSONResponse(body), nil
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
