// Package changes is how every mutating use-case commits: one transaction
// holding the change itself, its audit entry, and the outbox row that tells
// the snapshot publisher (which gives it a config version once committed).
package changes

import (
	"context"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Change describes one mutation for the audit log and the snapshot.
type Change struct {
	Action       string // e.g. "provider.create"
	ResourceType string
	ResourceID   string
	// Details go to the audit entry; callers redact secrets.
	Details map[string]any
	// Section and Op go to the outbox; an empty Section records no snapshot change.
	Section domain.Section
	Op      domain.ChangeOp
	// Recorded, when set, runs in the transaction once the change and its
	// audit entry are written (e.g. to store what was computed for it). The change has
	// no config version yet: the publisher assigns it after the commit.
	Recorded func(ctx context.Context) error
}

// Mutator runs mutations.
type Mutator struct {
	tx       ports.TxRunner
	audit    ports.AuditRepository
	recorder ports.ChangeRecorder
	clock    ports.Clock
	notifier ports.ChangeNotifier
}

// NewMutator builds the mutation runner; notifier (may be nil) hears of
// every committed change that touched the snapshot.
func NewMutator(tx ports.TxRunner, audit ports.AuditRepository, recorder ports.ChangeRecorder, clock ports.Clock,
	notifier ports.ChangeNotifier) *Mutator {
	return &Mutator{tx: tx, audit: audit, recorder: recorder, clock: clock, notifier: notifier}
}

// Do runs fn in one transaction and records every change it returns; when
// fn or any record fails, nothing is written.
func (m *Mutator) Do(ctx context.Context, fn func(ctx context.Context, now time.Time) ([]Change, error)) error {
	now := m.clock.Now()
	recorded := false
	err := m.tx.InTx(ctx, func(ctx context.Context) error {
		chs, err := fn(ctx, now)
		if err != nil {
			return err
		}
		audited, both := m.recorder.(ports.AuditedChangeRecorder)
		for _, c := range chs {
			if c.Section == "" {
				if err := m.audit.Record(ctx, domain.NewAuditEntry(ctx, now, c.Action, c.ResourceType, c.ResourceID, c.Details)); err != nil {
					return err
				}
				continue
			}
			recorded = true
			if both {
				entry := domain.NewAuditEntry(ctx, now, c.Action, c.ResourceType, c.ResourceID, c.Details)
				if _, err := audited.RecordAudited(ctx, c.Section, c.ResourceID, c.Op, entry); err != nil {
					return err
				}
			} else {
				seq, err := m.recorder.Record(ctx, c.Section, c.ResourceID, c.Op)
				if err != nil {
					return err
				}
				entry := domain.NewAuditEntry(ctx, now, c.Action, c.ResourceType, c.ResourceID, withChangeSeq(c.Details, seq))
				if err := m.audit.Record(ctx, entry); err != nil {
					return err
				}
			}
			if c.Recorded != nil {
				if err := c.Recorded(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && recorded && m.notifier != nil {
		m.notifier.Notify()
	}
	return err
}

// withChangeSeq adds the outbox change's sequence number to the audit
// details: the change is in every snapshot from the config version the
// publisher gives that outbox row.
func withChangeSeq(d map[string]any, seq int64) map[string]any {
	out := make(map[string]any, len(d)+1)
	for k, val := range d {
		out[k] = val
	}
	out["change_seq"] = seq
	return out
}
