// Package imports brings a New API / one-api installation over from the
// EZ-Api/exporter file: providers, masters, keys (their existing tokens keep
// working) and bindings, in one transaction, reporting every mapping decision.
package imports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// File is the exporter's intermediate format (EZ-Api/exporter
// internal/schema/intermediate.go, version 1.x). Fields ezapi does not use
// (scopes, _original, _source_email) are accepted and ignored.
type File struct {
	Version  string   `json:"version"`
	Source   Source   `json:"source"`
	Data     Data     `json:"data"`
	Warnings []string `json:"warnings"`
}

// Source names the system the file came from.
type Source struct {
	Type       string    `json:"type"`
	Version    string    `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
}

// Data holds the exported records.
type Data struct {
	Providers []Provider `json:"providers"`
	Masters   []Master   `json:"masters"`
	Keys      []Key      `json:"keys"`
	Bindings  []Binding  `json:"bindings"`
}

// Provider is one exported channel (one per key of a multi-key channel).
type Provider struct {
	OriginalID    int             `json:"original_id"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	BaseURL       string          `json:"base_url"`
	APIKey        string          `json:"api_key"`
	Models        []string        `json:"models"`
	PrimaryGroup  string          `json:"primary_group"`
	AllGroups     []string        `json:"all_groups"`
	Weight        int             `json:"weight"`
	Priority      int             `json:"priority"`
	Status        string          `json:"status"`
	AutoBan       bool            `json:"auto_ban"`
	IsMultiKey    bool            `json:"is_multi_key"`
	MultiKeyIndex int             `json:"multi_key_index"`
	OriginalName  string          `json:"original_name"`
	Original      json.RawMessage `json:"_original"`
}

// Master is one exported user.
type Master struct {
	Name             string   `json:"name"`
	Group            string   `json:"group"`
	Namespaces       []string `json:"namespaces"`
	DefaultNamespace string   `json:"default_namespace"`
	MaxChildKeys     int      `json:"max_child_keys"`
	GlobalQPS        int      `json:"global_qps"`
	Status           string   `json:"status"`
	SourceUserID     int      `json:"_source_user_id"`
	SourceEmail      string   `json:"_source_email"`
}

// Key is one exported token.
type Key struct {
	MasterRef               string     `json:"master_ref"`
	OriginalToken           string     `json:"original_token"`
	Group                   string     `json:"group"`
	Status                  string     `json:"status"`
	Scopes                  []string   `json:"scopes"`
	Namespaces              []string   `json:"namespaces"`
	ModelLimitsEnabled      bool       `json:"model_limits_enabled"`
	ModelLimits             []string   `json:"model_limits"`
	ExpiresAt               *time.Time `json:"expires_at"`
	AllowIPs                []string   `json:"allow_ips"`
	QuotaLimit              *int64     `json:"quota_limit"`
	QuotaUsed               *int64     `json:"quota_used"`
	UnlimitedQuota          bool       `json:"unlimited_quota"`
	OriginalID              int        `json:"_original_id"`
	TokenPlaintextAvailable *bool      `json:"_token_plaintext_available"`
}

// Binding is one exported ability (group × model).
type Binding struct {
	Namespace  string `json:"namespace"`
	RouteGroup string `json:"route_group"`
	Model      string `json:"model"`
	Status     string `json:"status"`
}

// Parse decodes an exporter file. Unknown fields are rejected so a file of
// another format is not half-imported; a bad file is a validation error
// naming where it broke.
func Parse(body []byte) (File, error) {
	var f struct {
		File
		Data *Data `json:"data"` // shadows File.Data to tell a missing one
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, domain.NewValidationError("body", "not an EZ-Api exporter file: "+jsonProblem(err))
	}
	if dec.More() {
		return File{}, domain.NewValidationError("body", "trailing data after the exporter file")
	}
	if f.Version == "" || f.Version[0] != '1' {
		return File{}, domain.NewValidationError("version", fmt.Sprintf("unsupported exporter file version %q, want 1.x", f.Version))
	}
	if f.Data == nil {
		return File{}, domain.NewValidationError("data", "is required")
	}
	f.File.Data = *f.Data
	return f.File, nil
}

// jsonProblem describes a decode error without echoing values (a token may
// sit next to the error).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: want %s", te.Field, te.Type)
	default:
		return err.Error()
	}
}
