// Package audit reads the audit log (admin only), newest first.
package audit

import (
	"context"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the audit-log reader.
type Service struct{ repo ports.AuditReader }

// NewService builds the reader.
func NewService(repo ports.AuditReader) *Service { return &Service{repo: repo} }

// List returns up to f.Limit entries and the cursor of the next page (the
// last id returned; 0 when done).
func (s *Service) List(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEntry, int64, error) {
	limit := f.Limit
	f.Limit++
	rows, err := s.repo.List(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	items, next := domain.PageOf(rows, limit, func(e domain.AuditEntry) int64 { return e.ID })
	return items, next, nil
}
