// Package providers manages upstream provider accounts: validation of their
// type-specific fields and upstream address, their route group, and their
// upstream API key, which is stored encrypted and only ever shown masked.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Policy holds the configurable limits.
type Policy struct {
	// MaxModels bounds a provider's upstream model list.
	MaxModels int
}

// Masker renders a secret for display.
type Masker func(secret string) string

// Service is the providers use-case.
type Service struct {
	repo   ports.ProviderRepository
	groups ports.RouteGroupRepository
	cipher ports.SecretCipher
	guard  ports.AddressGuard
	mut    *changes.Mutator
	mask   Masker
	policy Policy
}

// NewService builds the use-case.
func NewService(repo ports.ProviderRepository, groups ports.RouteGroupRepository, cipher ports.SecretCipher,
	guard ports.AddressGuard, mut *changes.Mutator, mask Masker, policy Policy) *Service {
	return &Service{repo: repo, groups: groups, cipher: cipher, guard: guard, mut: mut, mask: mask, policy: policy}
}

// Patch is a partial update; nil pointers and unset fields stay unchanged.
type Patch struct {
	Name           *string
	Type           *string
	BaseURL        domain.Field[string]
	APIKey         domain.Field[string]
	GoogleProject  domain.Field[string]
	GoogleLocation domain.Field[string]
	Group          *string
	Models         *[]string
	Weight         *int
	Priority       *int
	Status         *domain.ProviderStatus
	AutoBan        *bool
}

var (
	// googleProject is a project id, optionally domain-scoped (legacy).
	googleProject = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// googleLocation is global, a multi-region, or a region (us-central1,
	// europe-west4, northamerica-northeast1, …).
	googleLocation = regexp.MustCompile(`^(?:global|us|eu|[a-z]+-[a-z]+[0-9]{1,2})$`)
)

func vertexFamily(t string) bool { return t == "vertex" || t == "vertex-express" }

// normalize fills defaults and checks every field rule; the address check
// runs only when the base URL changed.
func (s *Service) normalize(ctx context.Context, p *domain.Provider, checkURL bool) error {
	v := &domain.ValidationError{}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 128 {
		v.Add("name", "must be 1 to 128 characters")
	}
	var reason string
	if p.Type, reason = domain.NormalizeProviderType(p.Type); reason != "" {
		v.Add("type", reason)
	}
	p.BaseURL = strings.TrimSpace(p.BaseURL)
	switch {
	case p.BaseURL == "" && p.Type == "compatible":
		v.Add("base_url", "is required for type compatible")
	case p.BaseURL != "" && checkURL:
		if err := s.guard.CheckUpstreamURL(ctx, p.BaseURL); err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) {
				return err
			}
			v.Fields = append(v.Fields, ve.Fields...)
		}
	}
	p.GoogleProject, p.GoogleLocation = strings.TrimSpace(p.GoogleProject), strings.TrimSpace(p.GoogleLocation)
	if vertexFamily(p.Type) {
		if p.GoogleProject == "" {
			v.Add("google_project", "is required for type "+p.Type)
		}
		if p.GoogleLocation == "" {
			p.GoogleLocation = "global"
		}
	}
	// Both end up in upstream URLs (…/projects/{project}/locations/{location}/…):
	// only their real formats may pass, never a path.
	if p.GoogleProject != "" && !googleProject.MatchString(p.GoogleProject) {
		v.Add("google_project", "not a Google Cloud project id (6 to 30 lower-case letters, digits or '-', starting with a letter; optionally domain-scoped as example.com:my-project)")
	}
	if p.GoogleLocation != "" && !googleLocation.MatchString(p.GoogleLocation) {
		v.Add("google_location", "not a Google Cloud location (global, us, eu or a region such as us-central1)")
	}
	if p.Group == "" {
		p.Group = domain.DefaultGroup
	}
	switch {
	case len(p.Models) == 0:
		v.Add("models", "must list at least one upstream model")
	case len(p.Models) > s.policy.MaxModels:
		v.Add("models", fmt.Sprintf("lists %d models; at most %d are allowed", len(p.Models), s.policy.MaxModels))
	default:
		p.Models = slices.Clone(p.Models) // trimmed below; never the caller's slice
		seen := make(map[string]bool, len(p.Models))
		for i, m := range p.Models {
			m = strings.TrimSpace(m)
			p.Models[i] = m
			if m == "" || len(m) > 256 {
				v.Add(fmt.Sprintf("models.%d", i), "must be 1 to 256 characters")
			} else if seen[m] {
				v.Add(fmt.Sprintf("models.%d", i), fmt.Sprintf("%q is listed twice", m))
			}
			seen[m] = true
		}
	}
	if p.Weight < 0 {
		v.Add("weight", "must be ≥ 0")
	}
	switch p.Status {
	case "":
		p.Status = domain.ProviderActive
	case domain.ProviderActive, domain.ProviderDisabled, domain.ProviderBanned:
	default:
		v.Add("status", "must be active, disabled or banned")
	}
	return v.OrNil()
}

func aad(id int64) []byte { return []byte("provider:" + strconv.FormatInt(id, 10)) }

// details is what the audit log records of a provider: never the key.
func details(p domain.Provider, keyChanged bool) map[string]any {
	d := map[string]any{"name": p.Name, "type": p.Type, "group": p.Group, "status": p.Status, "models": len(p.Models)}
	if keyChanged {
		d["api_key"] = domain.Redacted
	}
	return d
}

// Create adds a provider.
func (s *Service) Create(ctx context.Context, p domain.Provider) (domain.Provider, error) {
	if err := s.normalize(ctx, &p, true); err != nil {
		return domain.Provider{}, err
	}
	var out domain.Provider
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		ids, err := s.groups.Ensure(ctx, []string{p.Group})
		if err != nil {
			return nil, err
		}
		p.GroupID = ids[p.Group]
		if p.ID, err = s.repo.NextID(ctx); err != nil {
			return nil, err
		}
		var ct []byte
		if p.APIKey != "" {
			if ct, err = s.cipher.Encrypt([]byte(p.APIKey), aad(p.ID)); err != nil {
				return nil, fmt.Errorf("encrypt api key: %w", err)
			}
			p.APIKeyMask = s.mask(p.APIKey)
		}
		p.CreatedAt, p.UpdatedAt = now, now
		if out, err = s.repo.Create(ctx, p, ct); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "provider.create", ResourceType: "provider", ResourceID: idString(out.ID),
			Details: details(out, p.APIKey != ""), Section: domain.SectionProviders, Op: domain.OpUpsert}}, nil
	})
	return out, err
}

// Get returns one provider (key masked).
func (s *Service) Get(ctx context.Context, id int64) (domain.Provider, error) {
	return s.repo.Get(ctx, id)
}

// List returns a page of providers and the id to continue after (0: done).
func (s *Service) List(ctx context.Context, f domain.ProviderFilter, page domain.Page) ([]domain.Provider, int64, error) {
	return domain.FetchPage(page, func(pg domain.Page) ([]domain.Provider, error) { return s.repo.List(ctx, f, pg) },
		func(p domain.Provider) int64 { return p.ID })
}

// Update applies a partial update.
func (s *Service) Update(ctx context.Context, id int64, patch Patch) (domain.Provider, error) {
	var out domain.Provider
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		p, err := s.repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		oldURL, oldDest := p.BaseURL, destination(p)
		apply(&p, patch)
		if err := s.normalize(ctx, &p, p.BaseURL != oldURL); err != nil {
			return nil, err
		}
		// The stored secret goes wherever base_url points: moving it to another
		// host needs the secret again, so holding write access to providers is
		// not enough to send someone else's key to one's own server.
		if destination(p) != oldDest && p.APIKeyMask != "" && !patch.APIKey.Set {
			return nil, domain.NewValidationError("api_key",
				"is required when base_url moves to another host (or scheme, port or default endpoint)")
		}
		ids, err := s.groups.Ensure(ctx, []string{p.Group})
		if err != nil {
			return nil, err
		}
		p.GroupID = ids[p.Group]
		var ct []byte
		if patch.APIKey.Set {
			p.APIKeyMask = ""
			if patch.APIKey.Value != nil && *patch.APIKey.Value != "" {
				if ct, err = s.cipher.Encrypt([]byte(*patch.APIKey.Value), aad(id)); err != nil {
					return nil, fmt.Errorf("encrypt api key: %w", err)
				}
				p.APIKeyMask = s.mask(*patch.APIKey.Value)
			}
		}
		p.UpdatedAt = now
		if out, err = s.repo.Update(ctx, p, patch.APIKey.Set, ct); err != nil {
			return nil, err
		}
		d := details(out, patch.APIKey.Set)
		if out.BaseURL != oldURL {
			d["base_url"] = map[string]any{"from": redactURL(oldURL), "to": redactURL(out.BaseURL)}
		}
		return []changes.Change{{Action: "provider.update", ResourceType: "provider", ResourceID: idString(id),
			Details: d, Section: domain.SectionProviders, Op: domain.OpUpsert}}, nil
	})
	return out, err
}

// destination names where a provider's secret is sent: the scheme, host and
// port of base_url, or the type's own endpoint when base_url is empty.
func destination(p domain.Provider) string {
	if p.BaseURL == "" {
		return "type:" + p.Type
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil {
		return "url:" + p.BaseURL
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// redactURL is base_url as the audit shows it: a password in the user info
// is replaced (the upstream key itself never appears).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

func apply(p *domain.Provider, patch Patch) {
	if patch.Name != nil {
		p.Name = *patch.Name
	}
	if patch.Type != nil {
		p.Type = *patch.Type
	}
	setString(&p.BaseURL, patch.BaseURL)
	setString(&p.GoogleProject, patch.GoogleProject)
	setString(&p.GoogleLocation, patch.GoogleLocation)
	if patch.Group != nil {
		p.Group = *patch.Group
	}
	if patch.Models != nil {
		p.Models = slices.Clone(*patch.Models)
	}
	if patch.Weight != nil {
		p.Weight = *patch.Weight
	}
	if patch.Priority != nil {
		p.Priority = *patch.Priority
	}
	if patch.Status != nil {
		p.Status = *patch.Status
	}
	if patch.AutoBan != nil {
		p.AutoBan = *patch.AutoBan
	}
}

func setString(dst *string, f domain.Field[string]) {
	if !f.Set {
		return
	}
	*dst = ""
	if f.Value != nil {
		*dst = *f.Value
	}
}

// Delete removes a provider; bindings just resolve without it.
func (s *Service) Delete(ctx context.Context, id int64) error {
	return s.mut.Do(ctx, func(ctx context.Context, _ time.Time) ([]changes.Change, error) {
		p, err := s.repo.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.repo.Delete(ctx, id); err != nil {
			return nil, err
		}
		return []changes.Change{{Action: "provider.delete", ResourceType: "provider", ResourceID: idString(id),
			Details: map[string]any{"name": p.Name}, Section: domain.SectionProviders, Op: domain.OpDelete}}, nil
	})
}

// rotateBatch bounds how many rows one rotation pass reads at a time.
const rotateBatch = 200

// RotateSecrets re-encrypts every stored key that is not under the newest
// key version. Running it again changes nothing.
func (s *Service) RotateSecrets(ctx context.Context) (int, error) {
	rotated := 0
	var after int64
	for {
		batch, err := s.repo.Secrets(ctx, after, rotateBatch)
		if err != nil {
			return rotated, err
		}
		for _, sec := range batch {
			after = sec.ProviderID
			if !s.cipher.Stale(sec.Ciphertext) {
				continue
			}
			plain, err := s.cipher.Decrypt(sec.Ciphertext, aad(sec.ProviderID))
			if err != nil {
				return rotated, fmt.Errorf("decrypt key of provider %d: %w", sec.ProviderID, err)
			}
			ct, err := s.cipher.Encrypt(plain, aad(sec.ProviderID))
			if err != nil {
				return rotated, fmt.Errorf("encrypt key of provider %d: %w", sec.ProviderID, err)
			}
			err = s.mut.Do(ctx, func(ctx context.Context, _ time.Time) ([]changes.Change, error) {
				ok, err := s.repo.ReplaceSecret(ctx, sec.ProviderID, sec.Ciphertext, ct)
				if err != nil || !ok {
					return nil, err // changed meanwhile: that write used the current key already
				}
				rotated++
				return []changes.Change{{Action: "provider.rotate_key", ResourceType: "provider",
					ResourceID: idString(sec.ProviderID), Details: map[string]any{"api_key": domain.Redacted}}}, nil
			})
			if err != nil {
				return rotated, err
			}
		}
		if len(batch) < rotateBatch {
			return rotated, nil
		}
	}
}

// DecryptKey returns a provider's upstream key in plaintext (for the
// snapshot publisher; never for an API response).
func (s *Service) DecryptKey(id int64, ciphertext []byte) (string, error) {
	return KeyDecrypter(s.cipher)(id, ciphertext)
}

// KeyDecrypter decrypts stored provider keys, bound to their row.
func KeyDecrypter(cipher ports.SecretCipher) func(id int64, ciphertext []byte) (string, error) {
	return func(id int64, ciphertext []byte) (string, error) {
		plain, err := cipher.Decrypt(ciphertext, aad(id))
		if err != nil {
			return "", fmt.Errorf("decrypt key of provider %d: %w", id, err)
		}
		return string(plain), nil
	}
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }
