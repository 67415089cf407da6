// Package logs takes the balancers' access logs (validated record by
// record, cost filled in from model prices) into the log sink, and answers
// log queries and usage statistics, scoped to a master's own data.
package logs

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Ack modes.
const (
	AckCommitted = "committed"
	AckQueued    = "queued"
)

// Policy holds the configurable rules.
type Policy struct {
	MaxBatch      int
	Ack           string
	CommitTimeout time.Duration
	// MaxRange bounds a query's time range.
	MaxRange time.Duration
	// MaxFuture bounds how far ahead of now a created_at may be.
	MaxFuture time.Duration
}

// Service is the log use-case.
type Service struct {
	sink   ports.LogSink
	prices ports.ModelPrices
	reader ports.LogReader
	clock  ports.Clock
	policy Policy

	mu        sync.Mutex
	priceMap  map[string][2]float64
	priceTime time.Time
}

// NewService builds the use-case.
func NewService(sink ports.LogSink, prices ports.ModelPrices, reader ports.LogReader, clock ports.Clock, policy Policy) *Service {
	return &Service{sink: sink, prices: prices, reader: reader, clock: clock, policy: policy}
}

// priceTTL is how long model prices are cached for cost computation.
const priceTTL = 5 * time.Second

func (s *Service) priceOf(ctx context.Context, key string) ([2]float64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.priceMap == nil || s.clock.Now().Sub(s.priceTime) > priceTTL {
		m, err := s.prices.Prices(ctx)
		if err != nil {
			return [2]float64{}, false, err
		}
		s.priceMap, s.priceTime = m, s.clock.Now()
	}
	p, ok := s.priceMap[key]
	return p, ok, nil
}

// Validate checks one record on its own.
func (s *Service) Validate(r domain.LogRecord) []domain.FieldError {
	var errs []domain.FieldError
	add := func(f, m string) { errs = append(errs, domain.FieldError{Field: f, Message: m}) }
	if r.RequestID == "" || len(r.RequestID) > 128 {
		add("request_id", "is required, at most 128 characters")
	}
	if r.CreatedAt.IsZero() {
		add("created_at", "is required")
	} else if r.CreatedAt.After(s.clock.Now().Add(s.policy.MaxFuture)) {
		add("created_at", "is too far in the future")
	}
	if r.StatusCode < 0 || r.StatusCode > 999 {
		add("status_code", "must be 0 to 999")
	}
	for f, n := range map[string]int64{"latency_ms": int64(r.LatencyMS), "ttft_ms": int64(r.TTFTMS),
		"prompt_tokens": r.PromptTokens, "completion_tokens": r.CompletionTokens, "cached_tokens": r.CachedTokens} {
		if n < 0 {
			add(f, "must be ≥ 0")
		}
	}
	if r.CostUSD != nil && *r.CostUSD < 0 {
		add("cost_usd", "must be ≥ 0")
	}
	for f, v := range map[string]string{"namespace": r.Namespace, "model": r.Model, "upstream_model": r.UpstreamModel,
		"client_ip": r.ClientIP, "error": r.Error, "balancer_id": r.BalancerID} {
		if !utf8.ValidString(v) {
			add(f, "is not valid UTF-8")
		}
	}
	return errs
}

// Ingest validates each record, fills in missing costs and hands the valid
// ones to the sink; rejected lists the indexes refused before (decoding)
// and now (rules).
func (s *Service) Ingest(ctx context.Context, records []domain.LogRecord, rejected []domain.RejectedRecord) (domain.IngestResult, error) {
	// records has one slot per posted record (rejected ones included).
	if len(records) > s.policy.MaxBatch {
		return domain.IngestResult{}, fmt.Errorf("a batch holds at most %d records: %w", s.policy.MaxBatch, ErrBatchTooLarge)
	}
	skip := make(map[int]bool, len(rejected))
	for _, r := range rejected {
		skip[r.Index] = true
	}
	res := domain.IngestResult{Rejected: rejected}
	valid := make([]domain.LogRecord, 0, len(records))
	positions := make([]int, 0, len(records))
	for i, r := range records {
		if skip[i] {
			continue
		}
		if errs := s.Validate(r); len(errs) > 0 {
			res.Rejected = append(res.Rejected, domain.RejectedRecord{Index: i, Fields: errs})
			continue
		}
		r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond) // what PostgreSQL keeps
		if r.Namespace == "" {
			r.Namespace = domain.DefaultNamespace
		}
		if r.CostUSD == nil {
			p, ok, err := s.priceOf(ctx, domain.BindingKey(r.Namespace, r.Model))
			if err != nil {
				return domain.IngestResult{}, err
			}
			cost := 0.0
			if ok {
				cost = float64(r.PromptTokens)/1e6*p[0] + float64(r.CompletionTokens)/1e6*p[1]
			}
			r.CostUSD = &cost
		}
		valid = append(valid, r)
		positions = append(positions, i)
	}
	if len(valid) == 0 {
		sortRejected(res.Rejected)
		return res, nil
	}
	wait := s.policy.Ack != AckQueued
	if wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.policy.CommitTimeout)
		defer cancel()
	}
	outcomes, err := s.sink.Submit(ctx, valid, wait)
	if err != nil {
		return domain.IngestResult{}, err
	}
	if !wait {
		res.Accepted, res.Queued = len(valid), true
		sortRejected(res.Rejected)
		return res, nil
	}
	for j, o := range outcomes {
		switch o {
		case ports.Inserted:
			res.Accepted++
		case ports.Duplicate:
			res.Duplicates++
		case ports.Quarantined:
			res.Rejected = append(res.Rejected, domain.RejectedRecord{Index: positions[j], Fields: []domain.FieldError{
				{Field: "record", Message: "refused by the database (e.g. a NUL byte in text); kept in log_rejects"}}})
		}
	}
	sortRejected(res.Rejected)
	return res, nil
}

// ErrBatchTooLarge is a batch over log.max_batch.
var ErrBatchTooLarge = fmt.Errorf("batch too large: %w", domain.ErrInvalid)

func scope(ctx context.Context, masterID *int64) *int64 {
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() {
		id := p.MasterID
		return &id
	}
	return masterID
}

func (s *Service) checkRange(from, to time.Time) error {
	v := &domain.ValidationError{}
	if !to.After(from) {
		v.Add("to", "must be after from")
	} else if to.Sub(from) > s.policy.MaxRange {
		v.Add("to", fmt.Sprintf("the range may span at most %s", s.policy.MaxRange))
	}
	return v.OrNil()
}

// List returns a page of logs, newest first; a master sees only its own.
func (s *Service) List(ctx context.Context, f domain.LogFilter) ([]domain.LogRecord, error) {
	if err := s.checkRange(f.From, f.To); err != nil {
		return nil, err
	}
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() {
		if f.MasterID != nil && *f.MasterID != p.MasterID {
			return nil, nil
		}
		f.MasterID = scope(ctx, f.MasterID)
	}
	return s.reader.List(ctx, f)
}

// Usage groups usage over a range from the hourly roll-ups.
func (s *Service) Usage(ctx context.Context, from, to time.Time, group domain.UsageGroup, masterID *int64) ([]domain.UsageRow, error) {
	if err := s.checkRange(from, to); err != nil {
		return nil, err
	}
	switch group {
	case domain.GroupByModel, domain.GroupByKey, domain.GroupByMaster, domain.GroupByProvider, domain.GroupByHour, domain.GroupByDay:
	default:
		return nil, domain.NewValidationError("group_by", "must be one of model, key, master, provider, hour, day")
	}
	if p, ok := domain.PrincipalFrom(ctx); ok && p.IsMaster() && masterID != nil && *masterID != p.MasterID {
		return nil, nil
	}
	return s.reader.Usage(ctx, from, to, group, scope(ctx, masterID))
}

func sortRejected(r []domain.RejectedRecord) {
	sort.Slice(r, func(a, b int) bool { return r[a].Index < r[b].Index })
}
