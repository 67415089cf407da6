package logs_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/logs"
	"github.com/ez-api/ez-api/internal/ports"
)

var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const fuzzMaxFuture = 5 * time.Minute

type fixedClock struct{}

func (fixedClock) Now() time.Time { return fuzzNow }

// fuzzPrice is the price of default.gpt-4o per million prompt/completion tokens.
var fuzzPrice = [2]float64{2.5, 10}

type fixedPrices struct{}

func (fixedPrices) Prices(context.Context) (map[string][2]float64, error) {
	return map[string][2]float64{domain.BindingKey(domain.DefaultNamespace, "gpt-4o"): fuzzPrice}, nil
}

// recordingSink plays PostgreSQL: a request id containing "dup" is already
// stored, one containing NUL is quarantined, the rest are inserted.
type recordingSink struct {
	calls    int
	wait     bool
	deadline bool
	got      []domain.LogRecord
}

func (s *recordingSink) Submit(ctx context.Context, records []domain.LogRecord, wait bool) ([]ports.WriteOutcome, error) {
	s.calls++
	s.wait = wait
	_, s.deadline = ctx.Deadline()
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

const fuzzMaxAge = 30 * 24 * time.Hour

// fixedOwners: key k belongs to master k%10+1; keys ≥ 1000 do not exist.
type fixedOwners struct{}

func (fixedOwners) KeyMasters(_ context.Context, ids []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	for _, id := range ids {
		if id < 1000 {
			out[id] = id%10 + 1
		}
	}
	return out, nil
}

// validateOracle lists the fields Validate must complain about, written out
// from the LogRecord contract.
func validateOracle(r domain.LogRecord) []string {
	var bad []string
	if r.RequestID == "" || !utf8.ValidString(r.RequestID) || utf8.RuneCountInString(r.RequestID) > 128 {
		bad = append(bad, "request_id")
	}
	if !r.CreatedAt.IsZero() && (r.CreatedAt.After(fuzzNow.Add(fuzzMaxFuture)) || r.CreatedAt.Before(fuzzNow.Add(-fuzzMaxAge))) {
		bad = append(bad, "created_at")
	}
	if r.StatusCode < 0 || r.StatusCode > 999 {
		bad = append(bad, "status_code")
	}
	for name, n := range map[string]int64{"latency_ms": int64(r.LatencyMS), "ttft_ms": int64(r.TTFTMS)} {
		if n < 0 || n > math.MaxInt32 {
			bad = append(bad, name)
		}
	}
	for name, n := range map[string]int64{"prompt_tokens": r.PromptTokens, "completion_tokens": r.CompletionTokens, "cached_tokens": r.CachedTokens} {
		if n < 0 {
			bad = append(bad, name)
		}
	}
	if r.CostUSD != nil && !(*r.CostUSD >= 0 && *r.CostUSD <= 1e6) {
		bad = append(bad, "cost_usd")
	}
	for _, f := range []struct {
		name, s string
		max     int
	}{{"namespace", r.Namespace, 64}, {"model", r.Model, 200}, {"upstream_model", r.UpstreamModel, 256},
		{"client_ip", r.ClientIP, 64}, {"error", r.Error, 4096}, {"balancer_id", r.BalancerID, 128}} {
		if !utf8.ValidString(f.s) || utf8.RuneCountInString(f.s) > f.max {
			bad = append(bad, f.name)
		}
	}
	sort.Strings(bad)
	return bad
}

func fieldNames(errs []domain.FieldError) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Message == "" {
			return []string{"<empty message for " + e.Field + ">"}
		}
		out = append(out, e.Field)
	}
	sort.Strings(out)
	return out
}

func validRecord(i int) domain.LogRecord {
	cost := 0.01
	return domain.LogRecord{RequestID: fmt.Sprintf("ok-%d", i), CreatedAt: fuzzNow.Add(-time.Minute), Model: "gpt-4o",
		StatusCode: 200, PromptTokens: 100, CompletionTokens: 10, CostUSD: &cost}
}

// FuzzIngest drives Service.Ingest the way POST /logs does: one slot per
// posted record, the slots that failed decoding listed in rejected (their
// record left zero). Slot i holds the fuzzed record when bit i%64 of pick
// is set, a valid record otherwise, and is a decoding failure when bit i%64
// of decodeFail is set.
//
// Invariants: Validate reports exactly the fields the contract names; a
// batch of at most max_batch slots is never refused as too large and a
// larger one always is (wrapping domain.ErrInvalid, nothing written);
// every slot is accounted for exactly once (accepted, duplicate, or
// rejected by index with its errors); the sink gets exactly the valid
// records, in order, normalised (UTC, microseconds, namespace, cost).
func FuzzIngest(f *testing.F) {
	f.Add(uint8(3), uint64(0b010), uint64(0b001), uint8(10), false,
		"req-1", int64(-time.Hour), 200, 800, 200, int64(1200), int64(350), int64(0), 0.0, false, "", "gpt-4o")
	f.Fuzz(func(t *testing.T, slots uint8, pick, decodeFail uint64, maxBatch uint8, queued bool,
		requestID string, createdOffset int64, status, latency, ttft int, prompt, completion, cached int64,
		cost float64, hasCost bool, namespace, model string,
	) {
		fuzzed := domain.LogRecord{RequestID: requestID, StatusCode: status, LatencyMS: latency, TTFTMS: ttft,
			PromptTokens: prompt, CompletionTokens: completion, CachedTokens: cached, Namespace: namespace, Model: model}
		if createdOffset != 0 {
			fuzzed.CreatedAt = fuzzNow.Add(time.Duration(createdOffset))
		}
		if hasCost {
			if math.IsNaN(cost) || math.IsInf(cost, 0) {
				return // JSON cannot carry these
			}
			fuzzed.CostUSD = &cost
		}

		// Validate against the oracle.
		sink := &recordingSink{}
		ack := logs.AckCommitted
		if queued {
			ack = logs.AckQueued
		}
		limit := int(maxBatch) + 1
		svc := logs.NewService(sink, fixedPrices{}, nil, fixedOwners{}, fixedClock{}, logs.Policy{
			MaxBatch: limit, Ack: ack, CommitTimeout: 10 * time.Second, MaxRange: 24 * time.Hour, MaxFuture: fuzzMaxFuture,
			MaxAge: fuzzMaxAge})
		if got, want := fieldNames(svc.Validate(fuzzed)), validateOracle(fuzzed); !slices.Equal(got, want) {
			t.Fatalf("Validate(%+v) names %v, want %v", fuzzed, got, want)
		}

		n := int(slots)
		records := make([]domain.LogRecord, n)
		var rejected []domain.RejectedRecord
		for i := range n {
			bit := uint64(1) << (i % 64)
			switch {
			case decodeFail&bit != 0:
				rejected = append(rejected, domain.RejectedRecord{Index: i,
					Fields: []domain.FieldError{{Field: "record", Message: "not a log record object"}}})
			case pick&bit != 0:
				records[i] = fuzzed
			default:
				records[i] = validRecord(i)
			}
		}
		decodeRejected := slices.Clone(rejected)

		res, err := svc.Ingest(context.Background(), logs.Batch{Records: records, Rejected: rejected})
		if n > limit {
			if !errors.Is(err, logs.ErrBatchTooLarge) || !errors.Is(err, domain.ErrInvalid) || sink.calls != 0 {
				t.Fatalf("%d slots over max_batch %d: got %v, %d sink calls", n, limit, err, sink.calls)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d slots (%d failed decoding), max_batch %d: unexpected error %v", n, len(decodeRejected), limit, err)
		}

		// Expected: the slots that decode and validate, in order.
		var want []int
		for i := range n {
			if decodeFail&(uint64(1)<<(i%64)) == 0 && len(svc.Validate(records[i])) == 0 {
				want = append(want, i)
			}
		}
		if len(want) > 0 && (sink.calls != 1 || sink.wait == queued || sink.deadline == queued) {
			t.Fatalf("sink called %d times, wait=%v deadline=%v, queued=%v", sink.calls, sink.wait, sink.deadline, queued)
		}
		if len(want) == 0 && sink.calls != 0 {
			t.Fatalf("sink called with nothing valid")
		}
		if len(sink.got) != len(want) {
			t.Fatalf("sink got %d records, want %d", len(sink.got), len(want))
		}
		quarantined := map[int]bool{}
		for j, r := range sink.got {
			orig := records[want[j]]
			if orig.CreatedAt.IsZero() {
				orig.CreatedAt = fuzzNow // a missing created_at is the time of receipt
			}
			if !r.CreatedAt.Equal(orig.CreatedAt.Truncate(time.Microsecond)) || r.CreatedAt.Location() != time.UTC ||
				r.CreatedAt.Nanosecond()%1000 != 0 {
				t.Fatalf("slot %d: created_at %v not normalised from %v", want[j], r.CreatedAt, orig.CreatedAt)
			}
			wantNS := orig.Namespace
			if wantNS == "" {
				wantNS = domain.DefaultNamespace
			}
			if r.Namespace != wantNS || r.RequestID != orig.RequestID || r.Model != orig.Model {
				t.Fatalf("slot %d: record changed: %+v from %+v", want[j], r, orig)
			}
			if r.CostUSD == nil || *r.CostUSD < 0 || math.IsNaN(*r.CostUSD) || math.IsInf(*r.CostUSD, 0) {
				t.Fatalf("slot %d: cost %v", want[j], r.CostUSD)
			}
			switch {
			case orig.CostUSD != nil:
				if *r.CostUSD != *orig.CostUSD {
					t.Fatalf("slot %d: given cost %v became %v", want[j], *orig.CostUSD, *r.CostUSD)
				}
			case r.Namespace == domain.DefaultNamespace && r.Model == "gpt-4o":
				if c := min(float64(r.PromptTokens)/1e6*fuzzPrice[0]+float64(r.CompletionTokens)/1e6*fuzzPrice[1], logs.MaxCostUSD); *r.CostUSD != c {
					t.Fatalf("slot %d: cost %v, want %v", want[j], *r.CostUSD, c)
				}
			default:
				if *r.CostUSD != 0 {
					t.Fatalf("slot %d: unpriced model costs %v", want[j], *r.CostUSD)
				}
			}
			if !queued && strings.Contains(r.RequestID, "\x00") {
				quarantined[want[j]] = true
			}
		}

		seen := map[int]bool{}
		for _, rr := range res.Rejected {
			if rr.Index < 0 || rr.Index >= n || seen[rr.Index] || len(rr.Fields) == 0 {
				t.Fatalf("bad rejection %+v in %+v", rr, res.Rejected)
			}
			seen[rr.Index] = true
			if slices.Contains(want, rr.Index) && !quarantined[rr.Index] {
				t.Fatalf("valid slot %d rejected: %+v", rr.Index, rr.Fields)
			}
		}
		for _, d := range decodeRejected {
			if !seen[d.Index] {
				t.Fatalf("decoding failure at %d is not reported", d.Index)
			}
		}
		if res.Accepted+res.Duplicates+len(res.Rejected) != n {
			t.Fatalf("%d slots but accepted %d + duplicates %d + rejected %d", n, res.Accepted, res.Duplicates, len(res.Rejected))
		}
		if res.Queued != (queued && len(want) > 0) || (queued && res.Duplicates != 0) {
			t.Fatalf("queued=%v, result %+v", queued, res)
		}
	})
}
