// Package refbalancer is a reference balancer for tests (not shipped): it
// reads the snapshot from Redis the way the balancer team's docs say
// (docs/snapshot.md), follows events:snapshot and dp:config:refresh, authenticates client tokens
// by sha256 lookup, resolves a public model to a provider and upstream
// model, and sends heartbeats.
package refbalancer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/core/snapshot"
)

// Balancer holds the last consistent snapshot it loaded.
type Balancer struct {
	rdb    redis.UniversalClient
	prefix string

	mu       sync.RWMutex
	version  int64
	checksum string
	data     map[string]map[string]string
	reloads  map[string]int
}

// New builds a balancer reading rdb under prefix.
func New(rdb redis.UniversalClient, prefix string) *Balancer {
	return &Balancer{rdb: rdb, prefix: prefix, data: map[string]map[string]string{}, reloads: map[string]int{}}
}

// Load reads every hash and meta:snapshot in one MULTI/EXEC, so the view is
// consistent, and verifies the checksum before using it.
func (b *Balancer) Load(ctx context.Context) error {
	keys := append([]string{snapshot.KeySnapshot}, snapshot.DataKeys...)
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, b.prefix+k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	meta := cmds[0].Val()
	data := make(map[string]map[string]string, len(snapshot.DataKeys))
	for i, k := range keys[1:] {
		data[k] = cmds[i+1].Val()
	}
	if sum := snapshot.Checksum(data); sum != meta["checksum"] {
		return fmt.Errorf("checksum mismatch: computed %s, meta says %s", sum, meta["checksum"])
	}
	v, _ := strconv.ParseInt(meta["version"], 10, 64)
	b.mu.Lock()
	defer b.mu.Unlock()
	if v < b.version {
		return nil // never go back
	}
	b.version, b.checksum, b.data = v, meta["checksum"], data
	return nil
}

// Follow reloads on every events:snapshot message and on every
// dp:config:refresh message (the original EZ-API balancer's signal) until
// ctx ends. With channels given it follows only those (unprefixed names).
func (b *Balancer) Follow(ctx context.Context, channels ...string) {
	if len(channels) == 0 {
		channels = []string{snapshot.Channel, snapshot.RefreshChannel}
	}
	names := make([]string, len(channels))
	for i, c := range channels {
		names[i] = b.prefix + c
	}
	sub := b.rdb.Subscribe(ctx, names...)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if b.understands(msg.Channel, msg.Payload) {
				_ = b.Load(ctx)
				b.mu.Lock()
				b.reloads[strings.TrimPrefix(msg.Channel, b.prefix)]++
				b.mu.Unlock()
			}
		}
	}
}

// understands decodes a message of either channel into its published shape.
func (b *Balancer) understands(channel, payload string) bool {
	switch strings.TrimPrefix(channel, b.prefix) {
	case snapshot.Channel:
		var ev snapshot.Event
		return json.Unmarshal([]byte(payload), &ev) == nil
	case snapshot.RefreshChannel:
		var ev struct {
			Resource  string `json:"resource"`
			Version   string `json:"version,omitempty"`
			ActiveKey string `json:"active_key,omitempty"`
			Timestamp int64  `json:"timestamp"`
		}
		return json.Unmarshal([]byte(payload), &ev) == nil && ev.Resource != ""
	}
	return false
}

// Reloads counts the reloads triggered by messages of channel (unprefixed).
func (b *Balancer) Reloads(channel string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.reloads[channel]
}

// Version is the applied snapshot version.
func (b *Balancer) Version() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.version
}

// Errors the balancer answers clients with.
var (
	ErrUnknownKey  = errors.New("unknown key")
	ErrKeyInactive = errors.New("key not active")
	ErrNoRoute     = errors.New("no route")
)

// Route is where a request goes.
type Route struct {
	KeyID         int64
	ProviderID    int64
	UpstreamModel string
	APIKey        string
}

// Authorize authenticates token and resolves model (namespace.name) to a
// provider and upstream model, as a balancer would.
func (b *Balancer) Authorize(token, model string, now time.Time) (Route, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	sum := sha256.Sum256([]byte(token))
	raw, ok := b.data[snapshot.KeyAuthKeys][hex.EncodeToString(sum[:])]
	if !ok {
		return Route{}, ErrUnknownKey
	}
	var k snapshot.KeyJSON
	if err := json.Unmarshal([]byte(raw), &k); err != nil {
		return Route{}, err
	}
	if k.Status != "active" || k.MasterStatus != "active" || (k.ExpiresAt != 0 && now.Unix() >= k.ExpiresAt) {
		return Route{}, ErrKeyInactive
	}
	if len(k.AllowedModels) > 0 && !contains(k.AllowedModels, model) {
		return Route{}, ErrNoRoute
	}
	rawB, ok := b.data[snapshot.KeyBindings][model]
	if !ok {
		return Route{}, ErrNoRoute
	}
	var bind snapshot.BindingJSON
	if err := json.Unmarshal([]byte(rawB), &bind); err != nil {
		return Route{}, err
	}
	if bind.Status != "active" {
		return Route{}, ErrNoRoute
	}
	for _, c := range bind.Candidates {
		if c.Status != "ok" {
			continue // config_error / no_provider: skip without thinking
		}
		ids := make([]string, 0, len(c.Upstreams))
		for id := range c.Upstreams {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			var p snapshot.ProviderJSON
			if err := json.Unmarshal([]byte(b.data[snapshot.KeyProviders][id]), &p); err != nil || p.Status != "active" {
				continue
			}
			return Route{KeyID: k.ID, ProviderID: p.ID, UpstreamModel: c.Upstreams[id], APIKey: p.APIKey}, nil
		}
	}
	return Route{}, ErrNoRoute
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Heartbeat reports the applied version to the control plane.
func (b *Balancer) Heartbeat(ctx context.Context, baseURL, serviceToken, instanceID string) error {
	b.mu.RLock()
	body := fmt.Sprintf(`{"instance_id":%q,"snapshot_version":%d,"checksum":%q,"hostname":"refbalancer","version":"test"}`,
		instanceID, b.version, b.checksum)
	b.mu.RUnlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/balancers/heartbeat", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+serviceToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("heartbeat: %s", res.Status)
	}
	return nil
}
