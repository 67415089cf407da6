// Package logs takes the balancers' access logs (validated record by
// record, cost filled in from model prices) into the log sink, and answers
// log queries and usage statistics, scoped to a master's own data.
package logs

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
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
	// MaxFuture bounds how far ahead of now a created_at may be (clock skew).
	MaxFuture time.Duration
	// MaxAge bounds how far back a created_at may be: older records would
	// land outside the retained partitions (0: no bound).
	MaxAge time.Duration
}

// Batch is one decoded POST /logs: one slot per posted record.
type Batch struct {
	// Records holds every posted record; the slots listed in Rejected are zero.
	Records []domain.LogRecord
	// Rejected lists the records refused while decoding.
	Rejected []domain.RejectedRecord
	// UnknownFields counts fields the contract does not know; they are
	// ignored (the balancer may send more than we know), never stored.
	UnknownFields int
}

// Stats are the use-case's counters.
type Stats struct {
	// UnknownFields counts ignored record fields.
	UnknownFields int64
	// KeyMismatches counts records refused because their key_id is unknown
	// or belongs to another master.
	KeyMismatches int64
}

// Service is the log use-case.
type Service struct {
	sink   ports.LogSink
	prices ports.ModelPrices
	reader ports.LogReader
	owners ports.KeyOwners
	clock  ports.Clock
	policy Policy

	mu        sync.Mutex
	priceMap  map[string][2]float64
	priceTime time.Time

	ownerMu sync.Mutex
	owner   map[int64]ownerEntry

	unknownFields, keyMismatches atomic.Int64
}

type ownerEntry struct {
	master int64 // 0: no such key
	at     time.Time
}

// NewService builds the use-case; owners tells which master owns a key.
func NewService(sink ports.LogSink, prices ports.ModelPrices, reader ports.LogReader, owners ports.KeyOwners, clock ports.Clock, policy Policy) *Service {
	return &Service{sink: sink, prices: prices, reader: reader, owners: owners, clock: clock, policy: policy,
		owner: map[int64]ownerEntry{}}
}

// MaxBatch is the most records one POST /logs may carry.
func (s *Service) MaxBatch() int { return s.policy.MaxBatch }

// Stats reports the counters.
func (s *Service) Stats() Stats {
	return Stats{UnknownFields: s.unknownFields.Load(), KeyMismatches: s.keyMismatches.Load()}
}

// ownerTTL is how long a key's owner is trusted without asking the
// database again (a key never changes master; a deleted master takes its
// keys with it).
const ownerTTL = time.Minute

// maxOwnerCache bounds the owner cache; it is emptied when full.
const maxOwnerCache = 100_000

// keyOwners returns the master of each key id (0 for an unknown key).
func (s *Service) keyOwners(ctx context.Context, ids map[int64]bool) (map[int64]int64, error) {
	now := s.clock.Now()
	out := make(map[int64]int64, len(ids))
	var missing []int64
	s.ownerMu.Lock()
	for id := range ids {
		if e, ok := s.owner[id]; ok && now.Sub(e.at) < ownerTTL {
			out[id] = e.master
		} else {
			missing = append(missing, id)
		}
	}
	s.ownerMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found, err := s.owners.KeyMasters(ctx, missing)
	if err != nil {
		return nil, fmt.Errorf("key owners: %w", err)
	}
	s.ownerMu.Lock()
	defer s.ownerMu.Unlock()
	if len(s.owner)+len(missing) > maxOwnerCache {
		clear(s.owner)
	}
	for _, id := range missing {
		out[id] = found[id]
		s.owner[id] = ownerEntry{master: found[id], at: now}
	}
	return out, nil
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

// Limits of the LogRecord contract (openapi.yaml).
const (
	maxRequestID     = 128
	maxNamespace     = 64
	maxModel         = 200
	maxUpstreamModel = 256
	maxClientIP      = 64
	maxError         = 4096
	maxBalancerID    = 128
	maxStatusCode    = 999
	// MaxCostUSD bounds one record's cost, so sums of costs stay finite.
	MaxCostUSD = 1_000_000
)

// Validate checks one record on its own against every limit of the
// LogRecord contract; a zero created_at is taken as now (time of receipt).
func (s *Service) Validate(r domain.LogRecord) []domain.FieldError {
	var errs []domain.FieldError
	add := func(f, m string) { errs = append(errs, domain.FieldError{Field: f, Message: m}) }
	if r.RequestID == "" {
		add("request_id", "is required")
	} else if !utf8.ValidString(r.RequestID) {
		add("request_id", "is not valid UTF-8")
	} else if utf8.RuneCountInString(r.RequestID) > maxRequestID {
		add("request_id", fmt.Sprintf("is longer than %d characters", maxRequestID))
	}
	if !r.CreatedAt.IsZero() {
		now := s.clock.Now()
		if r.CreatedAt.After(now.Add(s.policy.MaxFuture)) {
			add("created_at", fmt.Sprintf("is more than %s in the future", s.policy.MaxFuture))
		} else if s.policy.MaxAge > 0 && r.CreatedAt.Before(now.Add(-s.policy.MaxAge)) {
			add("created_at", fmt.Sprintf("is older than the log retention (%s)", s.policy.MaxAge))
		}
	}
	if r.StatusCode < 0 || r.StatusCode > maxStatusCode {
		add("status_code", "must be 0 to 999")
	}
	for _, f := range [...]struct {
		name string
		n    int64
	}{{"latency_ms", int64(r.LatencyMS)}, {"ttft_ms", int64(r.TTFTMS)}} {
		if f.n < 0 || f.n > math.MaxInt32 {
			add(f.name, "must be 0 to 2147483647")
		}
	}
	for _, f := range [...]struct {
		name string
		n    int64
	}{{"prompt_tokens", r.PromptTokens}, {"completion_tokens", r.CompletionTokens}, {"cached_tokens", r.CachedTokens}} {
		if f.n < 0 {
			add(f.name, "must be ≥ 0")
		}
	}
	if r.CostUSD != nil && (math.IsNaN(*r.CostUSD) || *r.CostUSD < 0 || *r.CostUSD > MaxCostUSD) {
		add("cost_usd", "must be 0 to 1000000")
	}
	for _, f := range [...]struct {
		name, v string
		max     int
	}{{"namespace", r.Namespace, maxNamespace}, {"model", r.Model, maxModel}, {"upstream_model", r.UpstreamModel, maxUpstreamModel},
		{"client_ip", r.ClientIP, maxClientIP}, {"error", r.Error, maxError}, {"balancer_id", r.BalancerID, maxBalancerID}} {
		switch {
		case !utf8.ValidString(f.v):
			add(f.name, "is not valid UTF-8")
		case len(f.v) > f.max && utf8.RuneCountInString(f.v) > f.max:
			add(f.name, fmt.Sprintf("is longer than %d characters", f.max))
		}
	}
	return errs
}

// checkOwners refuses, by index, records whose key_id is unknown or
// belongs to another master than master_id; a record with a key but no
// master gets the key's master. It returns the records still valid.
func (s *Service) checkOwners(ctx context.Context, valid []domain.LogRecord, positions []int, res *domain.IngestResult) ([]domain.LogRecord, []int, error) {
	ids := map[int64]bool{}
	for _, r := range valid {
		if r.KeyID != nil {
			ids[*r.KeyID] = true
		}
	}
	if len(ids) == 0 {
		return valid, positions, nil
	}
	owners, err := s.keyOwners(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	keep, keepPos := valid[:0], positions[:0]
	for j, r := range valid {
		if r.KeyID != nil {
			owner := owners[*r.KeyID]
			var msg string
			switch {
			case owner == 0:
				msg = "no such key"
			case r.MasterID != nil && *r.MasterID != owner:
				msg = "does not belong to master_id"
			}
			if msg != "" {
				s.keyMismatches.Add(1)
				res.Rejected = append(res.Rejected, domain.RejectedRecord{Index: positions[j],
					Fields: []domain.FieldError{{Field: "key_id", Message: msg}}})
				continue
			}
			if r.MasterID == nil {
				r.MasterID = &owner
			}
		}
		keep, keepPos = append(keep, r), append(keepPos, positions[j])
	}
	return keep, keepPos, nil
}

// Ingest validates each record, fills in missing costs and times and hands
// the valid ones to the sink; the result lists by index the records refused
// while decoding and by the rules.
func (s *Service) Ingest(ctx context.Context, b Batch) (domain.IngestResult, error) {
	records, rejected := b.Records, b.Rejected
	if len(records) > s.policy.MaxBatch {
		return domain.IngestResult{}, fmt.Errorf("a batch holds at most %d records: %w", s.policy.MaxBatch, ErrBatchTooLarge)
	}
	s.unknownFields.Add(int64(b.UnknownFields))
	received := s.clock.Now()
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
		if r.CreatedAt.IsZero() {
			r.CreatedAt = received
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
			cost = min(cost, MaxCostUSD) // sums of costs stay finite
			r.CostUSD = &cost
		}
		valid = append(valid, r)
		positions = append(positions, i)
	}
	valid, positions, err := s.checkOwners(ctx, valid, positions, &res)
	if err != nil {
		return domain.IngestResult{}, err
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
				{Field: "record", Message: "refused by the database (e.g. a NUL byte in text); kept in log_rejects with the reason"}}})
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
