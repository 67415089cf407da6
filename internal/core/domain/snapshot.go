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
	// Published summarises the state the publishing replica last wrote to
	// Redis (nil before the first publish with this schema).
	Published *PublishedSnapshot
	// LastReconcile is the outcome of the last reconcile (nil: none yet).
	LastReconcile *ReconcileResult
}

// PublishedSnapshot is the summary of a published state: what Redis must
// hold, without its values.
type PublishedSnapshot struct {
	Version  int64
	Checksum string
	// Checksums and Counts are per data hash.
	Checksums map[string]string
	Counts    map[string]int
	Faults    []SnapshotFault
	// ClockFrom is the moment up to which clock-driven changes (expiries,
	// ends of grace periods) are reflected.
	ClockFrom time.Time
	At        time.Time
}

// ReconcileResult is what one reconcile found: Redis's data hashes streamed
// and their checksums recomputed, compared with the published ones.
type ReconcileResult struct {
	At      time.Time
	Version int64
	// Checksum is the total of the section checksums recomputed from Redis.
	Checksum string
	// Matched: every section that could be checked equalled the published
	// state (before any repair).
	Matched bool
	// Drifted are the hashes found different (data hashes and the
	// publisher's index hashes); Repaired those rewritten from the database.
	Drifted  []string
	Repaired []string
	// Unchecked are sections that changed during every attempt to scan them
	// (checked again at the next reconcile).
	Unchecked []string
	Error     string
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
	// PublishedVersion is the version of the state last published.
	PublishedVersion int64
	// LastReconcile is the last reconcile's outcome (nil: none yet).
	LastReconcile *ReconcileResult
}

// SnapshotFault is one snapshot entry published fail-closed, and why.
type SnapshotFault struct {
	Resource string // the hash, e.g. "config:providers"
	Field    string // the entry's field, e.g. the provider id
	Reason   string
}
