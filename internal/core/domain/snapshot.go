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
}
