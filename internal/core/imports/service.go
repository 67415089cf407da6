package imports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Outcomes of one record.
const (
	OutcomeImported         = "imported"
	OutcomeImportedDisabled = "imported_disabled"
	OutcomeExists           = "exists"
	OutcomeSkipped          = "skipped"
	OutcomeMapped           = "mapped"
	OutcomeWarning          = "warning"
)

// Decision is one line of the report: what happened to a record, or a rule
// applied to many. It never holds a secret.
type Decision struct {
	Record  string `json:"record"` // e.g. "providers[3]", "keys[12]", "keys" for a rule
	Name    string `json:"name"`   // the record's name, or a token's display prefix
	Outcome string `json:"outcome"`
	Message string `json:"message"`
}

// Counts tallies one kind of record.
type Counts struct {
	Imported int `json:"imported"`
	Existing int `json:"existing"`
	Skipped  int `json:"skipped"`
}

// Report is what an import did (or, in a dry run, would do).
type Report struct {
	DryRun         bool       `json:"dry_run"`
	Source         Source     `json:"source"`
	FileVersion    string     `json:"file_version"`
	Providers      Counts     `json:"providers"`
	Masters        Counts     `json:"masters"`
	Keys           Counts     `json:"keys"`
	Bindings       Counts     `json:"bindings"`
	Decisions      []Decision `json:"decisions"`
	ExportWarnings []string   `json:"export_warnings"`
}

func (r *Report) add(record, name, outcome, format string, args ...any) {
	r.Decisions = append(r.Decisions, Decision{Record: record, Name: name, Outcome: outcome,
		Message: fmt.Sprintf(format, args...)})
}

// ProviderCreator creates one provider with the usual validation.
type ProviderCreator interface {
	Create(ctx context.Context, p domain.Provider) (domain.Provider, error)
}

// MasterCreator creates one master with the usual validation.
type MasterCreator interface {
	Create(ctx context.Context, m domain.Master) (domain.Master, string, error)
}

// Service is the import use-case behind POST /admin/import and `ezapi import`.
type Service struct {
	repo      ports.ImportRepository
	providers ProviderCreator
	masters   MasterCreator
	models    ModelCreator
	bindings  BindingCreator
	mut       *changes.Mutator
	notifier  ports.ChangeNotifier
}

// NewService builds the use-case; notifier (may be nil) wakes the publisher.
func NewService(repo ports.ImportRepository, providers ProviderCreator, masters MasterCreator, models ModelCreator,
	bindings BindingCreator, mut *changes.Mutator, notifier ports.ChangeNotifier) *Service {
	return &Service{repo: repo, providers: providers, masters: masters, models: models, bindings: bindings, mut: mut,
		notifier: notifier}
}

// errDryRun rolls the transaction back after a dry run computed its report.
var errDryRun = errors.New("dry run")

// Import applies f in one transaction; with dryRun it reports what it would
// do and writes nothing. Importing the same file again changes nothing:
// providers and masters are matched by name, keys by token hash.
func (s *Service) Import(ctx context.Context, f File, dryRun bool) (Report, error) {
	rep := Report{DryRun: dryRun, Source: f.Source, FileVersion: f.Version, ExportWarnings: f.Warnings}
	if rep.ExportWarnings == nil {
		rep.ExportWarnings = []string{}
	}
	var keyIDs []string
	err := s.mut.Do(ctx, func(ctx context.Context, now time.Time) ([]changes.Change, error) {
		rep.Decisions = nil
		rep.Providers, rep.Masters, rep.Keys, rep.Bindings = Counts{}, Counts{}, Counts{}, Counts{}
		if err := s.importProviders(ctx, f.Data.Providers, &rep); err != nil {
			return nil, err
		}
		masters, err := s.importMasters(ctx, f.Data, &rep)
		if err != nil {
			return nil, err
		}
		if keyIDs, err = s.importKeys(ctx, f.Data.Keys, masters, now, &rep); err != nil {
			return nil, err
		}
		if err := s.importBindings(ctx, f.Data.Bindings, &rep); err != nil {
			return nil, err
		}
		if err := s.repo.RecordChanges(ctx, domain.SectionKeys, keyIDs, domain.OpUpsert); err != nil {
			return nil, err
		}
		if dryRun {
			return nil, errDryRun
		}
		return []changes.Change{{Action: "import.apply", ResourceType: "import", ResourceID: f.Source.Type,
			Details: auditDetails(rep)}}, nil
	})
	if errors.Is(err, errDryRun) {
		return rep, nil
	}
	if err != nil {
		return Report{}, err
	}
	// The nested use-cases notify before this transaction commits: wake the
	// publisher again now that every change is visible.
	created := len(keyIDs) + rep.Providers.Imported + rep.Masters.Imported + rep.Bindings.Imported
	if created > 0 && s.notifier != nil {
		s.notifier.Notify()
	}
	return rep, nil
}

func (s *Service) importProviders(ctx context.Context, ps []Provider, rep *Report) error {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = strings.TrimSpace(p.Name)
	}
	taken, err := s.repo.ProviderNames(ctx, names)
	if err != nil {
		return err
	}
	for i, p := range ps {
		rec := fmt.Sprintf("providers[%d]", i)
		name := names[i]
		if taken[strings.ToLower(name)] {
			rep.Providers.Existing++
			rep.add(rec, name, OutcomeExists, "a provider named %q exists; left as it is", name)
			continue
		}
		rule, known := mapType(p.Type)
		dp := domain.Provider{Name: name, Type: rule.Type, BaseURL: strings.TrimSpace(p.BaseURL), APIKey: p.APIKey,
			Group: strings.TrimSpace(p.PrimaryGroup), Models: p.Models, Weight: p.Weight, Priority: p.Priority,
			Status: domain.ProviderActive, AutoBan: p.AutoBan}
		if dp.BaseURL == "" {
			dp.BaseURL = rule.DefaultBaseURL
		}
		switch p.Status {
		case "active":
		case "disabled":
			dp.Status = domain.ProviderDisabled
		default:
			dp.Status = domain.ProviderDisabled
			rep.add(rec, name, OutcomeMapped, "status %q unknown: imported disabled", p.Status)
		}
		switch {
		case !known || rule.Disable:
			dp.Status = domain.ProviderDisabled
			rep.add(rec, name, OutcomeMapped, "type %q: %s", p.Type, rule.Reason)
		case rule.Type != strings.ToLower(strings.TrimSpace(p.Type)):
			rep.add(rec, name, OutcomeMapped, "type %q imported as OpenAI-compatible with base_url %s", p.Type, dp.BaseURL)
		}
		if p.IsMultiKey {
			rep.add(rec, name, OutcomeMapped, "key %d of multi-key channel %q (original id %d), a provider of its own",
				p.MultiKeyIndex, p.OriginalName, p.OriginalID)
		}
		if extra := extraGroups(p); len(extra) > 0 {
			rep.add(rec, name, OutcomeWarning, "channel was also in groups %s; a provider has one route group "+
				"(%q): create a provider per extra group or bindings with candidates in %q", strings.Join(extra, ", "),
				orDefault(dp.Group), orDefault(dp.Group))
		}
		if _, err := s.providers.Create(ctx, dp); err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) {
				return fmt.Errorf("import provider %q: %w", name, err)
			}
			rep.Providers.Skipped++
			rep.add(rec, name, OutcomeSkipped, "not importable: %s", fieldProblems(ve))
			continue
		}
		taken[strings.ToLower(name)] = true // a later record of the same name (any case) exists now
		rep.Providers.Imported++
		outcome := OutcomeImported
		if dp.Status == domain.ProviderDisabled {
			outcome = OutcomeImportedDisabled
		}
		rep.add(rec, name, outcome, "as %s provider in route group %q", dp.Type, orDefault(dp.Group))
	}
	return nil
}

func extraGroups(p Provider) []string {
	var out []string
	for _, g := range p.AllGroups {
		g = strings.TrimSpace(g)
		if g != "" && g != strings.TrimSpace(p.PrimaryGroup) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func orDefault(g string) string {
	if g == "" {
		return domain.DefaultGroup
	}
	return g
}

func (s *Service) importMasters(ctx context.Context, d Data, rep *Report) (map[string]domain.Master, error) {
	names := make([]string, 0, len(d.Masters))
	for _, m := range d.Masters {
		names = append(names, strings.TrimSpace(m.Name))
	}
	for _, k := range d.Keys {
		names = append(names, strings.TrimSpace(k.MasterRef))
	}
	byName, err := s.repo.MastersByName(ctx, names)
	if err != nil {
		return nil, err
	}
	keysPer := map[string]int{}
	for _, k := range d.Keys {
		keysPer[strings.ToLower(strings.TrimSpace(k.MasterRef))]++
	}
	for i, m := range d.Masters {
		rec := fmt.Sprintf("masters[%d]", i)
		name := strings.TrimSpace(m.Name)
		if _, ok := byName[strings.ToLower(name)]; ok {
			rep.Masters.Existing++
			rep.add(rec, name, OutcomeExists, "a master named %q exists; its keys are added to it", name)
			continue
		}
		dm := domain.Master{Name: name, Group: strings.TrimSpace(m.Group), MaxKeys: m.MaxChildKeys,
			DefaultRPM: m.GlobalQPS * 60}
		switch m.Status {
		case "active":
			dm.Status = domain.MasterActive
		case "suspended":
			dm.Status = domain.MasterSuspended
		default:
			dm.Status = domain.MasterSuspended
			rep.add(rec, name, OutcomeMapped, "status %q unknown: imported suspended", m.Status)
		}
		if n := keysPer[strings.ToLower(name)]; dm.MaxKeys > 0 && n > dm.MaxKeys {
			rep.add(rec, name, OutcomeMapped, "max_child_keys %d raised to %d to hold the imported keys", dm.MaxKeys, n)
			dm.MaxKeys = n
		}
		dm.Namespaces, dm.DefaultNamespace = masterNamespaces(rec, name, m, rep)
		out, _, err := s.masters.Create(ctx, dm)
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) {
				return nil, fmt.Errorf("import master %q: %w", name, err)
			}
			rep.Masters.Skipped++
			rep.add(rec, name, OutcomeSkipped, "not importable: %s; its keys are skipped", fieldProblems(ve))
			continue
		}
		byName[strings.ToLower(name)] = out
		rep.Masters.Imported++
		rep.add(rec, name, OutcomeImported, "max_keys %d, default_rpm %d (global_qps %d × 60), status %s, "+
			"namespaces %s, default namespace %q", out.MaxKeys, out.DefaultRPM, m.GlobalQPS, out.Status,
			namespaceList(out.Namespaces), out.DefaultNamespace)
	}
	return byName, nil
}

// keyIssuer marks imported keys.
const keyIssuer = "import"

func (s *Service) importKeys(ctx context.Context, ks []Key, masters map[string]domain.Master, now time.Time,
	rep *Report) ([]string, error) {
	type candidate struct {
		idx     int
		key     domain.Key
		primary string
		alias   string
	}
	var cands []candidate
	var hashes []string
	seen := map[string]bool{}
	var stats struct{ budget, limits, nonActive int }
	for i, k := range ks {
		rec := fmt.Sprintf("keys[%d]", i)
		ref := fmt.Sprintf("original id %d", k.OriginalID)
		tok := strings.TrimSpace(k.OriginalToken)
		if tok == "" || (k.TokenPlaintextAvailable != nil && !*k.TokenPlaintextAvailable) || bareToken(tok) == "" {
			rep.Keys.Skipped++
			rep.add(rec, ref, OutcomeSkipped, "the export has no plaintext token; the tenant needs a new key")
			continue
		}
		name := displayPrefix(tok)
		m, ok := masters[strings.ToLower(strings.TrimSpace(k.MasterRef))]
		if !ok {
			rep.Keys.Skipped++
			rep.add(rec, name, OutcomeSkipped, "master %q is neither in the file nor in ezapi", k.MasterRef)
			continue
		}
		primary, alias := keyHashes(tok)
		if seen[primary] {
			rep.Keys.Skipped++
			rep.add(rec, name, OutcomeSkipped, "the same token appears earlier in the file")
			continue
		}
		seen[primary] = true
		dk := domain.Key{MasterID: m.ID, Name: fmt.Sprintf("imported-%d", k.OriginalID), Prefix: name,
			TokenHash: primary, AliasTokenHash: alias, Group: strings.TrimSpace(k.Group), ExpiresAt: k.ExpiresAt,
			BudgetPeriod: domain.BudgetNone, IssuedBy: keyIssuer, CreatedAt: now, UpdatedAt: now}
		if dk.Group == "" {
			dk.Group = m.Group
		}
		switch domain.KeyStatus(k.Status) {
		case domain.KeyActive, domain.KeyDisabled, domain.KeyExpired, domain.KeyExhausted:
			dk.Status = domain.KeyStatus(k.Status)
		default:
			dk.Status = domain.KeyDisabled
			rep.add(rec, name, OutcomeMapped, "status %q unknown: imported disabled", k.Status)
		}
		if dk.Status != domain.KeyActive {
			stats.nonActive++
		}
		for _, raw := range k.AllowIPs {
			if strings.TrimSpace(raw) == "" {
				continue
			}
			p, ok := parseIP(raw)
			if !ok {
				// Dropping a bad entry would widen access: keep the key shut instead.
				dk.Status = domain.KeyDisabled
				rep.add(rec, name, OutcomeMapped, "allow_ips entry %q is not an IP or CIDR: key imported disabled", raw)
				continue
			}
			dk.AllowedIPs = append(dk.AllowedIPs, p)
		}
		var keep bool
		if dk.Namespaces, dk.DefaultNamespace, keep = keyNamespaces(rec, name, k.Namespaces, m, rep); !keep {
			rep.Keys.Skipped++
			continue
		}
		if k.ModelLimitsEnabled && len(k.ModelLimits) > 0 {
			stats.limits++
			for _, mdl := range k.ModelLimits {
				if strings.TrimSpace(mdl) != "" {
					dk.AllowedModels = append(dk.AllowedModels, bindingKey(dk.DefaultNamespace, mdl))
				}
			}
		}
		if !k.UnlimitedQuota && k.QuotaLimit != nil && *k.QuotaLimit >= 0 {
			used := int64(0)
			if k.QuotaUsed != nil && *k.QuotaUsed > 0 {
				used = *k.QuotaUsed
			}
			budget := float64(*k.QuotaLimit+used) / quotaPerUSD
			dk.BudgetUSD = &budget
			dk.UsedUSD = float64(used) / quotaPerUSD
			stats.budget++
		}
		cands = append(cands, candidate{idx: i, key: dk, primary: primary, alias: alias})
		hashes = append(hashes, primary, alias)
	}
	taken, err := s.repo.TakenKeyHashes(ctx, hashes)
	if err != nil {
		return nil, err
	}
	var keys []domain.Key
	for _, c := range cands {
		if taken[c.primary] || taken[c.alias] {
			rep.Keys.Existing++
			if !taken[c.primary] || !taken[c.alias] {
				// Only one form known: another key owns it, not an earlier import.
				rep.add(fmt.Sprintf("keys[%d]", c.idx), c.key.Prefix, OutcomeSkipped,
					"one form of this token already belongs to another key")
			}
			continue
		}
		keys = append(keys, c.key)
	}
	ids, err := s.repo.InsertKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	rep.Keys.Imported = len(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	if len(ks) > 0 {
		rep.add("keys", "", OutcomeMapped, "each token is looked up by the sha256 of its \"sk-\" form and, as an "+
			"alias, of its bare form, so clients keep sending either; statuses kept (%d not active); "+
			"quota became a USD budget at %d quota per USD (%d keys); model_limits became allowed_models in "+
			"each key's default namespace (%d keys)", stats.nonActive, quotaPerUSD, stats.budget, stats.limits)
	}
	return out, nil
}

func fieldProblems(ve *domain.ValidationError) string {
	parts := make([]string, 0, len(ve.Fields))
	for _, f := range ve.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return strings.Join(parts, "; ")
}

// auditDetails is the report for the audit log: counts and every decision
// (no secrets are ever in a report).
func auditDetails(r Report) map[string]any {
	ds := make([]map[string]string, len(r.Decisions))
	for i, d := range r.Decisions {
		ds[i] = map[string]string{"record": d.Record, "name": d.Name, "outcome": d.Outcome, "message": d.Message}
	}
	c := func(x Counts) map[string]int {
		return map[string]int{"imported": x.Imported, "existing": x.Existing, "skipped": x.Skipped}
	}
	return map[string]any{"source": r.Source.Type, "file_version": r.FileVersion, "providers": c(r.Providers),
		"masters": c(r.Masters), "keys": c(r.Keys), "bindings": c(r.Bindings), "decisions": ds}
}
