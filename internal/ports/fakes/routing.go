package fakes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Change is one recorded configuration change.
type Change struct {
	Version  int64
	Section  domain.Section
	EntityID string
	Op       domain.ChangeOp
}

// Changes is an in-memory ports.ChangeRecorder: versions start at 1 and
// only go up, like the config_version sequence.
type Changes struct {
	mu      sync.Mutex
	version int64
	Entries []Change
}

var _ ports.ChangeRecorder = (*Changes)(nil)

// Record implements ports.ChangeRecorder.
func (c *Changes) Record(_ context.Context, section domain.Section, entityID string, op domain.ChangeOp) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	c.Entries = append(c.Entries, Change{Version: c.version, Section: section, EntityID: entityID, Op: op})
	return c.version, nil
}

// Recorded returns a copy of the entries, safe to read while others record.
func (c *Changes) Recorded() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.Entries)
}

// Cipher is a transparent ports.SecretCipher for tests: "v<version>:"
// followed by the reversed additional data, a NUL and the plaintext. It is
// no encryption, but it is honest about the contract: the plaintext does
// not appear as is, a ciphertext only opens with its own additional data,
// and Rotate makes earlier ciphertexts stale.
type Cipher struct {
	mu      sync.Mutex
	version int
}

var _ ports.SecretCipher = (*Cipher)(nil)

// Rotate moves Encrypt to the next key version; older ones still decrypt.
func (c *Cipher) Rotate() { c.mu.Lock(); c.version++; c.mu.Unlock() }

func (c *Cipher) current() int { c.mu.Lock(); defer c.mu.Unlock(); return c.version }

func reversed(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

// Encrypt implements ports.SecretCipher.
func (c *Cipher) Encrypt(plaintext, additionalData []byte) ([]byte, error) {
	body := append(append(slices.Clone(additionalData), 0), plaintext...)
	return append([]byte("v"+strconv.Itoa(c.current())+":"), reversed(body)...), nil
}

func splitVersion(ciphertext []byte) (int, []byte, error) {
	head, body, ok := bytes.Cut(ciphertext, []byte(":"))
	if !ok || !bytes.HasPrefix(head, []byte("v")) {
		return 0, nil, errors.New("fake cipher: malformed ciphertext")
	}
	v, err := strconv.Atoi(string(head[1:]))
	if err != nil {
		return 0, nil, errors.New("fake cipher: malformed key version")
	}
	return v, body, nil
}

// Decrypt implements ports.SecretCipher.
func (c *Cipher) Decrypt(ciphertext, additionalData []byte) ([]byte, error) {
	v, body, err := splitVersion(ciphertext)
	if err != nil {
		return nil, err
	}
	if v > c.current() {
		return nil, fmt.Errorf("fake cipher: unknown key version %d", v)
	}
	aad, plain, ok := bytes.Cut(reversed(body), []byte{0})
	if !ok || !bytes.Equal(aad, additionalData) {
		return nil, errors.New("fake cipher: authentication failed")
	}
	return plain, nil
}

// Stale implements ports.SecretCipher.
func (c *Cipher) Stale(ciphertext []byte) bool {
	v, _, err := splitVersion(ciphertext)
	return err != nil || v != c.current()
}

// Guard is a ports.AddressGuard that needs no DNS: http(s) only and, unless
// AllowPrivate, not the loopback or cloud-metadata address.
type Guard struct{ AllowPrivate bool }

var _ ports.AddressGuard = Guard{}

// CheckUpstreamURL implements ports.AddressGuard.
func (g Guard) CheckUpstreamURL(_ context.Context, rawURL string) error {
	if !strings.HasPrefix(rawURL, "http://") && !strings.HasPrefix(rawURL, "https://") {
		return domain.NewValidationError("base_url", "scheme must be http or https")
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return domain.NewValidationError("base_url", "host is required")
	}
	if h := u.Hostname(); !g.AllowPrivate && (h == "127.0.0.1" || h == "169.254.169.254") {
		return domain.NewValidationError("base_url", "host "+h+" is private; private destinations are not allowed")
	}
	return nil
}

// RouteGroups is an in-memory ports.RouteGroupRepository.
type RouteGroups struct {
	mu   sync.Mutex
	next int64
	ids  map[string]int64
}

var _ ports.RouteGroupRepository = (*RouteGroups)(nil)

// NewRouteGroups builds an empty repository.
func NewRouteGroups() *RouteGroups { return &RouteGroups{ids: map[string]int64{}} }

// Ensure implements ports.RouteGroupRepository.
func (r *RouteGroups) Ensure(_ context.Context, names []string) (map[string]int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(names))
	for _, n := range names {
		if _, ok := r.ids[n]; !ok {
			r.next++
			r.ids[n] = r.next
		}
		out[n] = r.ids[n]
	}
	return out, nil
}

// Lookup implements ports.RouteGroupRepository.
func (r *RouteGroups) Lookup(_ context.Context, names []string) (map[string]int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(names))
	for _, n := range names {
		if id, ok := r.ids[n]; ok {
			out[n] = id
		}
	}
	return out, nil
}

// name returns the name of group id, as the providers query joins it.
func (r *RouteGroups) name(id int64) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, gid := range r.ids {
		if gid == id {
			return n, true
		}
	}
	return "", false
}

type providerRow struct {
	p          domain.Provider
	ciphertext []byte
}

// Providers is an in-memory ports.ProviderRepository. It reads group names
// from groups, and like the foreign key refuses a group id groups lacks.
type Providers struct {
	mu     sync.Mutex
	next   int64
	rows   map[int64]providerRow
	groups *RouteGroups
}

var _ ports.ProviderRepository = (*Providers)(nil)

// NewProviders builds an empty repository over groups.
func NewProviders(groups *RouteGroups) *Providers {
	return &Providers{rows: map[int64]providerRow{}, groups: groups}
}

// NextID implements ports.ProviderRepository.
func (r *Providers) NextID(_ context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	return r.next, nil
}

// stored is what a row keeps of p: no plaintext key, copies of slices.
func stored(p domain.Provider) domain.Provider {
	p.APIKey, p.Group = "", ""
	p.Models = slices.Clone(p.Models)
	return p
}

// check applies the unique name and group foreign key constraints; r.mu is held.
func (r *Providers) check(p domain.Provider) error {
	for id, row := range r.rows {
		if id != p.ID && row.p.Name == p.Name {
			return fmt.Errorf("a provider named %q exists: %w", p.Name, domain.ErrConflict)
		}
	}
	if _, ok := r.groups.name(p.GroupID); !ok {
		return fmt.Errorf("route group %d does not exist: %w", p.GroupID, domain.ErrConflict)
	}
	return nil
}

// read returns the row as the join with route_groups does; r.mu is held.
func (r *Providers) read(id int64) (domain.Provider, error) {
	row, ok := r.rows[id]
	if !ok {
		return domain.Provider{}, fmt.Errorf("provider %d: %w", id, domain.ErrNotFound)
	}
	p := row.p
	p.Group, _ = r.groups.name(p.GroupID)
	p.Models = slices.Clone(p.Models)
	return p, nil
}

// Create implements ports.ProviderRepository.
func (r *Providers) Create(_ context.Context, p domain.Provider, ciphertext []byte) (domain.Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[p.ID]; ok {
		return domain.Provider{}, fmt.Errorf("provider id %d is taken: %w", p.ID, domain.ErrConflict)
	}
	if err := r.check(p); err != nil {
		return domain.Provider{}, fmt.Errorf("create provider: %w", err)
	}
	p = stored(p)
	p.UpdatedAt = p.CreatedAt
	r.rows[p.ID] = providerRow{p: p, ciphertext: slices.Clone(ciphertext)}
	return r.read(p.ID)
}

// Get implements ports.ProviderRepository.
func (r *Providers) Get(_ context.Context, id int64) (domain.Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.read(id)
}

// List implements ports.ProviderRepository.
func (r *Providers) List(_ context.Context, f domain.ProviderFilter, page domain.Page) ([]domain.Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.Provider
	for id := range r.rows {
		p, _ := r.read(id)
		if id <= page.After ||
			(f.Group != "" && p.Group != f.Group) ||
			(f.Type != "" && p.Type != f.Type) ||
			(f.Status != "" && p.Status != f.Status) ||
			!strings.HasPrefix(p.Name, f.NamePrefix) {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b domain.Provider) int { return cmpID(a.ID, b.ID) })
	return limit(out, page.Limit), nil
}

// Update implements ports.ProviderRepository.
func (r *Providers) Update(_ context.Context, p domain.Provider, keyChanged bool, ciphertext []byte) (domain.Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.rows[p.ID]
	if !ok {
		return domain.Provider{}, fmt.Errorf("provider %d: %w", p.ID, domain.ErrNotFound)
	}
	if err := r.check(p); err != nil {
		return domain.Provider{}, fmt.Errorf("update provider %d: %w", p.ID, err)
	}
	p = stored(p)
	p.CreatedAt = old.p.CreatedAt
	if !keyChanged {
		p.APIKeyMask, ciphertext = old.p.APIKeyMask, old.ciphertext
	}
	r.rows[p.ID] = providerRow{p: p, ciphertext: slices.Clone(ciphertext)}
	return r.read(p.ID)
}

// Delete implements ports.ProviderRepository.
func (r *Providers) Delete(_ context.Context, id int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[id]; !ok {
		return fmt.Errorf("provider %d: %w", id, domain.ErrNotFound)
	}
	delete(r.rows, id)
	return nil
}

// ActiveRefsByGroup implements ports.ProviderRepository.
func (r *Providers) ActiveRefsByGroup(_ context.Context, groups []string) (map[string][]domain.ProviderRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int64, 0, len(r.rows))
	for id := range r.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make(map[string][]domain.ProviderRef, len(groups))
	for _, id := range ids {
		p, _ := r.read(id)
		if p.Status == domain.ProviderActive && slices.Contains(groups, p.Group) {
			out[p.Group] = append(out[p.Group], domain.ProviderRef{ID: p.ID, Models: p.Models})
		}
	}
	return out, nil
}

// Secrets implements ports.ProviderRepository.
func (r *Providers) Secrets(_ context.Context, afterID int64, n int) ([]ports.ProviderSecret, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ports.ProviderSecret
	for id, row := range r.rows {
		if id > afterID && row.ciphertext != nil {
			out = append(out, ports.ProviderSecret{ProviderID: id, Ciphertext: slices.Clone(row.ciphertext)})
		}
	}
	slices.SortFunc(out, func(a, b ports.ProviderSecret) int { return cmpID(a.ProviderID, b.ProviderID) })
	return limit(out, n), nil
}

// ReplaceSecret implements ports.ProviderRepository. A missing key (NULL)
// never equals old, as in SQL.
func (r *Providers) ReplaceSecret(_ context.Context, id int64, old, ciphertext []byte) (bool, error) {
	if bytes.Equal(old, ciphertext) {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	row, ok := r.rows[id]
	if !ok || row.ciphertext == nil || old == nil || !bytes.Equal(row.ciphertext, old) {
		return false, nil
	}
	row.ciphertext = slices.Clone(ciphertext)
	r.rows[id] = row
	return true, nil
}

// Models is an in-memory ports.ModelRepository. Bindings built over it
// share its lock, so Delete refuses a model a binding uses (as the
// foreign key does in PostgreSQL).
type Models struct {
	mu       sync.Mutex
	next     int64
	rows     map[int64]domain.Model
	bindings *Bindings
}

var _ ports.ModelRepository = (*Models)(nil)

// NewModels builds an empty repository.
func NewModels() *Models { return &Models{rows: map[int64]domain.Model{}} }

func cloneModel(m domain.Model) domain.Model {
	if m.ContextWindow != nil {
		v := *m.ContextWindow
		m.ContextWindow = &v
	}
	if m.MaxOutputTokens != nil {
		v := *m.MaxOutputTokens
		m.MaxOutputTokens = &v
	}
	return m
}

// Create implements ports.ModelRepository.
func (r *Models) Create(_ context.Context, m domain.Model) (domain.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.rows {
		if o.Namespace == m.Namespace && o.Name == m.Name {
			return domain.Model{}, fmt.Errorf("model %s exists: %w", m.Key(), domain.ErrConflict)
		}
	}
	r.next++
	m.ID = r.next
	r.rows[m.ID] = cloneModel(m)
	return cloneModel(m), nil
}

// Get implements ports.ModelRepository.
func (r *Models) Get(_ context.Context, id int64) (domain.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.rows[id]
	if !ok {
		return domain.Model{}, fmt.Errorf("model %d: %w", id, domain.ErrNotFound)
	}
	return cloneModel(m), nil
}

// GetByKey implements ports.ModelRepository.
func (r *Models) GetByKey(_ context.Context, namespace, name string) (domain.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.rows {
		if m.Namespace == namespace && m.Name == name {
			return cloneModel(m), nil
		}
	}
	return domain.Model{}, fmt.Errorf("model %s: %w", domain.BindingKey(namespace, name), domain.ErrNotFound)
}

// List implements ports.ModelRepository.
func (r *Models) List(_ context.Context, f domain.ModelFilter, page domain.Page) ([]domain.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.Model
	for id, m := range r.rows {
		if id <= page.After ||
			(f.Namespace != "" && m.Namespace != f.Namespace) ||
			(f.Kind != "" && m.Kind != f.Kind) ||
			(f.Status != "" && m.Status != f.Status) {
			continue
		}
		out = append(out, cloneModel(m))
	}
	slices.SortFunc(out, func(a, b domain.Model) int { return cmpID(a.ID, b.ID) })
	return limit(out, page.Limit), nil
}

// Update implements ports.ModelRepository: namespace, name and created_at
// never change.
func (r *Models) Update(_ context.Context, m domain.Model) (domain.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.rows[m.ID]
	if !ok {
		return domain.Model{}, fmt.Errorf("model %d: %w", m.ID, domain.ErrNotFound)
	}
	m.Namespace, m.Name, m.CreatedAt = old.Namespace, old.Name, old.CreatedAt
	r.rows[m.ID] = cloneModel(m)
	return cloneModel(m), nil
}

// Delete implements ports.ModelRepository.
func (r *Models) Delete(_ context.Context, id int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[id]; !ok {
		return fmt.Errorf("model %d: %w", id, domain.ErrNotFound)
	}
	if r.bindings != nil {
		if keys := r.bindings.keysUsing(id); len(keys) > 0 {
			return fmt.Errorf("delete model %d: used by binding %s: %w", id, strings.Join(keys, ", "), domain.ErrConflict)
		}
	}
	delete(r.rows, id)
	return nil
}

// Bindings is an in-memory ports.BindingRepository over models: a binding
// must name an existing model, at most one per model, and reads fill in
// the model's namespace and name.
type Bindings struct {
	mu     *sync.Mutex // the models' lock: one lock for both tables
	next   int64
	rows   map[int64]domain.Binding
	models *Models
}

var _ ports.BindingRepository = (*Bindings)(nil)

// NewBindings builds an empty repository and registers it with models, so
// that deleting a model in use fails.
func NewBindings(models *Models) *Bindings {
	b := &Bindings{mu: &models.mu, rows: map[int64]domain.Binding{}, models: models}
	models.mu.Lock()
	models.bindings = b
	models.mu.Unlock()
	return b
}

// read fills in the model's key as the join does; the lock is held.
func (r *Bindings) read(id int64) (domain.Binding, error) {
	b, ok := r.rows[id]
	if !ok {
		return domain.Binding{}, fmt.Errorf("binding %d: %w", id, domain.ErrNotFound)
	}
	m := r.models.rows[b.ModelID]
	b.Namespace, b.PublicModel = m.Namespace, m.Name
	b.Candidates = cloneCandidates(b.Candidates)
	return b, nil
}

// cloneCandidates copies cs; none reads back as nil, as from the JSON column.
func cloneCandidates(cs []domain.BindingCandidate) []domain.BindingCandidate {
	if len(cs) == 0 {
		return nil
	}
	return slices.Clone(cs)
}

// Create implements ports.BindingRepository.
func (r *Bindings) Create(_ context.Context, b domain.Binding) (domain.Binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.models.rows[b.ModelID]; !ok {
		return domain.Binding{}, fmt.Errorf("create binding: model %d does not exist: %w", b.ModelID, domain.ErrConflict)
	}
	for _, o := range r.rows {
		if o.ModelID == b.ModelID {
			return domain.Binding{}, fmt.Errorf("model %s already has a binding: %w", b.Key(), domain.ErrConflict)
		}
	}
	r.next++
	b.ID = r.next
	b.UpdatedAt = b.CreatedAt
	b.Candidates = cloneCandidates(b.Candidates)
	r.rows[b.ID] = b
	return r.read(b.ID)
}

// Get implements ports.BindingRepository.
func (r *Bindings) Get(_ context.Context, id int64) (domain.Binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.read(id)
}

// List implements ports.BindingRepository.
func (r *Bindings) List(_ context.Context, f domain.BindingFilter, page domain.Page) ([]domain.Binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.Binding
	for id := range r.rows {
		b, _ := r.read(id)
		if id <= page.After || (f.Namespace != "" && b.Namespace != f.Namespace) || (f.Status != "" && b.Status != f.Status) {
			continue
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b domain.Binding) int { return cmpID(a.ID, b.ID) })
	return limit(out, page.Limit), nil
}

// Update implements ports.BindingRepository: only status, candidates and
// updated_at change.
func (r *Bindings) Update(_ context.Context, b domain.Binding) (domain.Binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	row, ok := r.rows[b.ID]
	if !ok {
		return domain.Binding{}, fmt.Errorf("binding %d: %w", b.ID, domain.ErrNotFound)
	}
	row.Status, row.Candidates, row.UpdatedAt = b.Status, cloneCandidates(b.Candidates), b.UpdatedAt
	r.rows[b.ID] = row
	return r.read(b.ID)
}

// Delete implements ports.BindingRepository.
func (r *Bindings) Delete(_ context.Context, id int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[id]; !ok {
		return fmt.Errorf("binding %d: %w", id, domain.ErrNotFound)
	}
	delete(r.rows, id)
	return nil
}

// KeysUsingModel implements ports.BindingRepository.
func (r *Bindings) KeysUsingModel(_ context.Context, modelID int64) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keysUsing(modelID), nil
}

// keysUsing lists the keys of modelID's bindings; the lock is held.
func (r *Bindings) keysUsing(modelID int64) []string {
	var keys []string
	for _, b := range r.rows {
		if b.ModelID == modelID {
			m := r.models.rows[modelID]
			keys = append(keys, m.Key())
		}
	}
	slices.Sort(keys)
	return keys
}

func cmpID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func limit[T any](rows []T, n int) []T {
	if len(rows) > n {
		return rows[:n]
	}
	return rows
}

// BindingResolutions is an in-memory ports.BindingResolutionStore with the
// adapter's rules: a lower version never replaces a higher one, and a
// binding the repository no longer has is skipped.
type BindingResolutions struct {
	mu       sync.Mutex
	rows     map[int64]domain.BindingResolution
	bindings *Bindings
	// Saves counts SaveResolutions calls.
	Saves int
}

var _ ports.BindingResolutionStore = (*BindingResolutions)(nil)

// NewBindingResolutions builds an empty store for the bindings of repo.
func NewBindingResolutions(repo *Bindings) *BindingResolutions {
	return &BindingResolutions{rows: map[int64]domain.BindingResolution{}, bindings: repo}
}

// SaveResolutions implements ports.BindingResolutionStore.
func (s *BindingResolutions) SaveResolutions(_ context.Context, rs []domain.BindingResolution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Saves++
	for _, r := range rs {
		s.bindings.mu.Lock()
		_, exists := s.bindings.rows[r.BindingID]
		s.bindings.mu.Unlock()
		if !exists {
			continue
		}
		if have, ok := s.rows[r.BindingID]; ok && (have.Version > r.Version || reflect.DeepEqual(have.Candidates, r.Candidates)) {
			continue
		}
		r.Candidates = slices.Clone(r.Candidates)
		s.rows[r.BindingID] = r
	}
	return nil
}

// Resolutions implements ports.BindingResolutionStore.
func (s *BindingResolutions) Resolutions(_ context.Context, ids []int64) (map[int64]domain.BindingResolution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]domain.BindingResolution{}
	for _, id := range ids {
		s.bindings.mu.Lock()
		_, exists := s.bindings.rows[id]
		s.bindings.mu.Unlock()
		if !exists {
			delete(s.rows, id) // the cascade of the binding's delete
			continue
		}
		if r, ok := s.rows[id]; ok {
			r.Candidates = slices.Clone(r.Candidates)
			out[id] = r
		}
	}
	return out, nil
}
