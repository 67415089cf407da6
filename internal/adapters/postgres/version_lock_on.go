//go:build !ezbench_nolock

package postgres

const versionLockEnabled = true
