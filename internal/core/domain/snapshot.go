package domain

import "time"

// BalancerHeartbeat is what a balancer reports about itself.
type BalancerHeartbeat struct {
	InstanceID      string
	SnapshotVersion int64
	Checksum        string
	Hostname        string
	Version         string
	LastSeen        time.Time
}

// ResyncResult describes a full resync.
type ResyncResult struct {
	Version  int64
	Checksum string
	Counts   map[string]int
	Duration time.Duration
	At       time.Time
}

// PublishState is the publisher's progress as every replica sees it.
type PublishState struct {
	LastPublishAt *time.Time
	LastError     string
	LastResync    *ResyncResult
}

// SyncStatus is what GET /sync/status shows.
type SyncStatus struct {
	DatabaseVersion  int64
	RedisVersion     int64
	RedisChecksum    string
	ComputedChecksum string
	ExpectedChecksum string
	InSync           bool
	Backlog          int
	OldestPending    *time.Time
	LastPublishAt    *time.Time
	LastError        string
	RedisError       string
	Balancers        []BalancerHeartbeat
	// Faults are the entries published fail-closed because their row could
	// not be turned into a usable value (e.g. an undecryptable secret).
	Faults []SnapshotFault
}

// SnapshotFault is one snapshot entry published fail-closed, and why.
type SnapshotFault struct {
	Resource string // the hash, e.g. "config:providers"
	Field    string // the entry's field, e.g. the provider id
	Reason   string
}
