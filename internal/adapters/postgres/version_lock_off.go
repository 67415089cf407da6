//go:build ezbench_nolock

package postgres

// The writer benchmark's counterfactual build: no version lock.
const versionLockEnabled = false
