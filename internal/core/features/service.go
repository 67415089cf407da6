// Package features stores feature flags (PostgreSQL is the source of
// truth) and records each change for the snapshot's meta:features.
package features

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Service is the feature-flag use-case.
type Service struct {
	repo ports.FeatureRepository
	mut  *changes.Mutator
}

// NewService builds the use-case.
func NewService(repo ports.FeatureRepository, mut *changes.Mutator) *Service {
	return &Service{repo: repo, mut: mut}
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// All returns every flag.
func (s *Service) All(ctx context.Context) (map[string]string, error) { return s.repo.All(ctx) }

// Put sets the flags with a value and removes those given as nil, then
// returns the whole map. Known flags are validated; unknown ones allowed.
func (s *Service) Put(ctx context.Context, updates map[string]*string) (map[string]string, error) {
	names := make([]string, 0, len(updates))
	v := &domain.ValidationError{}
	for name, val := range updates {
		names = append(names, name)
		if !namePattern.MatchString(name) {
			v.Add(name, "flag names are 1–64 lower-case letters, digits, '_', '.' or '-'")
			continue
		}
		if allowed, known := domain.KnownFeatureFlags[name]; known && val != nil && !slices.Contains(allowed, *val) {
			v.Add(name, "must be one of "+strings.Join(allowed, ", "))
		}
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	sort.Strings(names)
	err := s.mut.Do(ctx, func(ctx context.Context, _ time.Time) ([]changes.Change, error) {
		var chs []changes.Change
		for _, name := range names {
			val := updates[name]
			if val == nil {
				removed, err := s.repo.Delete(ctx, name)
				if err != nil {
					return nil, err
				}
				if removed {
					chs = append(chs, changes.Change{Action: "feature.delete", ResourceType: "feature", ResourceID: name,
						Section: domain.SectionFeatures, Op: domain.OpDelete})
				}
				continue
			}
			if err := s.repo.Upsert(ctx, name, *val); err != nil {
				return nil, err
			}
			chs = append(chs, changes.Change{Action: "feature.set", ResourceType: "feature", ResourceID: name,
				Details: map[string]any{"value": *val}, Section: domain.SectionFeatures, Op: domain.OpUpsert})
		}
		return chs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("update feature flags: %w", err)
	}
	return s.repo.All(ctx)
}
