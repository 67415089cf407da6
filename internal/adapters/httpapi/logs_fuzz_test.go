package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/logs"
	"github.com/ez-api/ez-api/internal/ports"
)

// fuzzNow is the fixed "now" of the log fuzz targets; seeds are dated before it.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type fuzzClock struct{}

func (fuzzClock) Now() time.Time { return fuzzNow }

// fuzzPrices prices one model so that cost filling is exercised.
type fuzzPrices struct{}

func (fuzzPrices) Prices(context.Context) (map[string][2]float64, error) {
	return map[string][2]float64{domain.BindingKey(domain.DefaultNamespace, "gpt-4o"): {2.5, 10}}, nil
}

// fuzzSink plays PostgreSQL: a request id containing "dup" is already
// stored, one containing NUL is refused (quarantined), the rest are inserted.
type fuzzSink struct{ got []domain.LogRecord }

func (s *fuzzSink) Submit(_ context.Context, records []domain.LogRecord, _ bool) ([]ports.WriteOutcome, error) {
	s.got = append(s.got, records...)
	out := make([]ports.WriteOutcome, len(records))
	for i, r := range records {
		switch {
		case strings.Contains(r.RequestID, "\x00"):
			out[i] = ports.Quarantined
		case strings.Contains(r.RequestID, "dup"):
			out[i] = ports.Duplicate
		}
	}
	return out, nil
}

func newFuzzLogService(sink ports.LogSink, maxBatch int, ack string) *logs.Service {
	return logs.NewService(sink, fuzzPrices{}, nil, fuzzOwners{}, fuzzClock{}, logs.Policy{
		MaxBatch: maxBatch, Ack: ack, CommitTimeout: 10 * time.Second, MaxRange: 31 * 24 * time.Hour, MaxFuture: 5 * time.Minute,
		MaxAge: 30 * 24 * time.Hour})
}

// fuzzOwners: every key id names a key of master 1.
type fuzzOwners struct{}

func (fuzzOwners) KeyMasters(_ context.Context, ids []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	for _, id := range ids {
		out[id] = 1
	}
	return out, nil
}

// logRecordFields are the contract's member names.
var logRecordFields = func() map[string]bool {
	out := map[string]bool{}
	for _, n := range logFieldList {
		out[n] = true
	}
	return out
}()

// toLogRecordJSON is the inverse of decodeLogRecord.
func toLogRecordJSON(r domain.LogRecord) map[string]any {
	d := map[string]any{"request_id": r.RequestID, "namespace": r.Namespace, "model": r.Model,
		"upstream_model": r.UpstreamModel, "status_code": r.StatusCode, "latency_ms": r.LatencyMS, "ttft_ms": r.TTFTMS,
		"prompt_tokens": r.PromptTokens, "completion_tokens": r.CompletionTokens, "cached_tokens": r.CachedTokens,
		"stream": r.Stream, "client_ip": r.ClientIP, "error": r.Error, "balancer_id": r.BalancerID}
	for name, p := range map[string]*int64{"key_id": r.KeyID, "master_id": r.MasterID, "provider_id": r.ProviderID} {
		if p != nil {
			d[name] = *p
		}
	}
	if r.CostUSD != nil {
		d["cost_usd"] = *r.CostUSD
	}
	if !r.CreatedAt.IsZero() {
		d["created_at"] = r.CreatedAt.Format(time.RFC3339Nano)
	}
	return d
}

// sameLogRecord compares records: instants with Equal (the zone pointer of a
// parsed time is not part of the value), the rest deeply.
func sameLogRecord(a, b domain.LogRecord) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return false
	}
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// checkDecodeError checks the shape of decodeLogRecord's single field error.
func checkDecodeError(t *testing.T, raw []byte, rec domain.LogRecord, errs []domain.FieldError) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("decode of %q: want one field error, got %v", raw, errs)
	}
	if !reflect.DeepEqual(rec, domain.LogRecord{}) {
		t.Fatalf("decode of %q: a rejected record comes with a non-zero record %+v", raw, rec)
	}
	e := errs[0]
	switch {
	case e.Message == "not a log record object":
		if e.Field != "record" {
			t.Fatalf("decode of %q: %+v", raw, e)
		}
	case e.Message == "not an RFC 3339 date-time":
		if e.Field != "created_at" {
			t.Fatalf("decode of %q: %+v", raw, e)
		}
	case strings.HasPrefix(e.Message, "has the wrong type ("), e.Message == "appears more than once",
		e.Message == "is out of range", e.Message == "is not a valid string":
		if !logRecordFields[e.Field] {
			t.Fatalf("decode of %q: an error reported for a field that does not exist: %+v", raw, e)
		}
	default:
		t.Fatalf("decode of %q: unexpected message %+v", raw, e)
	}
}

// FuzzDecodeLogRecord: for any bytes, decodeLogRecord returns either exactly
// one well-formed field error and a zero record, or a record; it is
// deterministic; a record that Validate accepts survives re-encoding as JSON
// and decoding again unchanged (and is still valid).
func FuzzDecodeLogRecord(f *testing.F) {
	svc := newFuzzLogService(&fuzzSink{}, 1000, logs.AckCommitted)
	f.Add([]byte(`{"request_id":"r-1","created_at":"2026-05-01T10:15:30.123Z","model":"gpt-4o","status_code":200}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, errs := decodeLogRecord(raw)
		again, errsAgain := decodeLogRecord(raw)
		if !reflect.DeepEqual(errs, errsAgain) || !sameLogRecord(rec, again) {
			t.Fatalf("decode of %q is not deterministic", raw)
		}
		if errs != nil {
			checkDecodeError(t, raw, rec, errs)
			return
		}
		if verrs := svc.Validate(rec); len(verrs) > 0 {
			for _, e := range verrs {
				if !logRecordFields[e.Field] || e.Message == "" {
					t.Fatalf("validation of %q: error %+v does not name a record field", raw, e)
				}
			}
			return
		}
		b, err := json.Marshal(toLogRecordJSON(rec))
		if err != nil {
			t.Fatalf("re-encode %+v: %v", rec, err)
		}
		back, errs := decodeLogRecord(b)
		if errs != nil {
			t.Fatalf("re-encoded record %s (from %q) does not decode: %v", b, raw, errs)
		}
		if !sameLogRecord(rec, back) {
			t.Fatalf("round trip changed the record:\n input %q\n first %+v\n again %+v", raw, rec, back)
		}
		if verrs := svc.Validate(back); len(verrs) > 0 {
			t.Fatalf("round trip made a valid record invalid: %s: %v", b, verrs)
		}
	})
}

// FuzzIngestLogs drives POST /logs below the transport: the body is decoded
// as the generated handler does ([]json.RawMessage), then IngestLogs runs
// against the real log service with a fake sink. Invariants: a batch of at
// most log.max_batch records is never refused as too large (and a larger one
// always is, with 413 and nothing written); otherwise every record is
// accounted for exactly once — accepted, duplicate or rejected by index with
// at least one error — and the sink sees exactly the records that decode and
// validate, with a cost.
func FuzzIngestLogs(f *testing.F) {
	f.Add([]byte(`[{"request_id":"r-1","created_at":"2026-05-01T10:15:30Z","model":"gpt-4o","prompt_tokens":1000}]`), uint8(10), false)
	f.Fuzz(func(t *testing.T, body []byte, maxBatch uint8, queued bool) {
		var raws gen.LogBatch
		if err := json.Unmarshal(body, &raws); err != nil || raws == nil {
			return // the generated handler answers 400 before IngestLogs
		}
		ack := logs.AckCommitted
		if queued {
			ack = logs.AckQueued
		}
		limit := int(maxBatch) + 1
		sink := &fuzzSink{}
		svc := newFuzzLogService(sink, limit, ack)
		api := &API{logs: svc}
		resp, err := api.IngestLogs(context.Background(), gen.IngestLogsRequestObject{Body: &raws})

		n := len(raws)
		if n > limit {
			var pe *ProblemError
			if !errors.As(err, &pe) || pe.Status != http.StatusRequestEntityTooLarge || resp != nil || len(sink.got) > 0 {
				t.Fatalf("%d records over max_batch %d: want 413 and nothing written, got %v, %v (%d written)", n, limit, resp, err, len(sink.got))
			}
			return
		}
		if err != nil {
			t.Fatalf("%d records, max_batch %d: unexpected error %v (body %q)", n, limit, err, body)
		}

		var res gen.LogIngestResult
		switch r := resp.(type) {
		case gen.IngestLogs200JSONResponse:
			res = gen.LogIngestResult(r)
		case gen.IngestLogs202JSONResponse:
			if !queued {
				t.Fatalf("202 in committed mode")
			}
			res = gen.LogIngestResult(r)
		default:
			t.Fatalf("unexpected response %T", resp)
		}

		// Which records should reach the sink, by the handler's own pieces.
		var want []int
		for i, raw := range raws {
			rec, errs := decodeLogRecord(raw)
			if errs == nil && len(svc.Validate(rec)) == 0 {
				want = append(want, i)
			}
		}
		if len(sink.got) != len(want) {
			t.Fatalf("sink got %d records, want %d", len(sink.got), len(want))
		}
		quarantined := map[int]bool{}
		for j, r := range sink.got {
			if r.CostUSD == nil || *r.CostUSD < 0 || r.Namespace == "" || r.CreatedAt.Location() != time.UTC {
				t.Fatalf("record %d reached the sink unnormalised: %+v", want[j], r)
			}
			if !queued && strings.Contains(r.RequestID, "\x00") {
				quarantined[want[j]] = true
			}
		}

		seen := map[int]bool{}
		for _, rr := range res.Rejected {
			if rr.Index < 0 || rr.Index >= n || seen[rr.Index] {
				t.Fatalf("rejected index %d out of range or repeated: %+v", rr.Index, res.Rejected)
			}
			seen[rr.Index] = true
			if len(rr.Errors) == 0 {
				t.Fatalf("rejected record %d without an error", rr.Index)
			}
			if slices.Contains(want, rr.Index) && !quarantined[rr.Index] {
				t.Fatalf("record %d is valid but was rejected: %+v", rr.Index, rr.Errors)
			}
		}
		if res.Accepted+res.Duplicates+len(res.Rejected) != n {
			t.Fatalf("%d records but accepted %d + duplicates %d + rejected %d", n, res.Accepted, res.Duplicates, len(res.Rejected))
		}
		if queued && res.Duplicates != 0 {
			t.Fatalf("duplicates reported in queued mode")
		}
	})
}
