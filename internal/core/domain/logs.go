package domain

import "time"

// LogRecord is one access log line from a balancer.
type LogRecord struct {
	RequestID        string
	CreatedAt        time.Time
	KeyID            *int64
	MasterID         *int64
	Namespace        string
	Model            string
	ProviderID       *int64
	UpstreamModel    string
	StatusCode       int
	LatencyMS        int
	TTFTMS           int
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	CostUSD          *float64
	Stream           bool
	ClientIP         string
	Error            string
	BalancerID       string
	// ID is set when read back.
	ID int64
}

// RejectedRecord says why one record of a batch was refused.
type RejectedRecord struct {
	Index  int
	Fields []FieldError
}

// IngestResult is the outcome of one POST /logs.
type IngestResult struct {
	Accepted   int
	Duplicates int
	Rejected   []RejectedRecord
	// Queued is true when the answer came before the commit (log.ack = queued).
	Queued bool
}

// LogFilter selects log records.
type LogFilter struct {
	From, To    time.Time
	KeyID       *int64
	MasterID    *int64
	Model       string
	ProviderID  *int64
	StatusClass int // 2..5, 0 for any
	RequestID   string
	// Cursor: records strictly older than (BeforeAt, BeforeID).
	BeforeAt *time.Time
	BeforeID int64
	Limit    int
}

// UsageGroup is what usage is grouped by.
type UsageGroup string

// Usage groupings.
const (
	GroupByModel    UsageGroup = "model"
	GroupByKey      UsageGroup = "key"
	GroupByMaster   UsageGroup = "master"
	GroupByProvider UsageGroup = "provider"
	GroupByHour     UsageGroup = "hour"
	GroupByDay      UsageGroup = "day"
)

// UsageRow is one group's usage.
type UsageRow struct {
	Group            string
	Requests         int64
	Errors           int64
	PromptTokens     int64
	CompletionTokens int64
	CostUSD          float64
	AvgLatencyMS     float64
	MaxLatencyMS     int64
}
