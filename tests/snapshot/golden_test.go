package snapshot_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

// The examples in docs/snapshot.md are generated from, and kept equal to,
// the deterministic snapshot built here. To regenerate them after a
// deliberate change of the JSON shapes:
//
//	go test -run TestDocGoldenExamples ./tests/snapshot/ -args -golden.print
//
// and paste the printed blocks into the document.
var printGolden = flag.Bool("golden.print", false, "print the golden blocks of docs/snapshot.md")

const docPath = "../../docs/snapshot.md"

// goldenNow is when the fixture snapshot is built and published.
var goldenNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// goldenVersion is the fixture's config version.
const goldenVersion = 1042

// exampleToken is a well-formed client token (sk- and 43 base62 characters)
// that is obviously not a real one.
func exampleToken(name string) string {
	return "sk-" + name + strings.Repeat("0", 43-len(name))
}

// The fixture's client tokens: the current and the previous token of key 31
// (rotated, in its grace period), and key 30, which the delta example revokes.
var (
	goldenToken     = exampleToken("AcmeProdCurrentExample")
	goldenPrevToken = exampleToken("AcmeProdPreviousExample")
	goldenCIToken   = exampleToken("AcmeCiPipelineExample")
)

// goldenPlaintexts are the decrypted upstream keys of the fixture providers.
var goldenPlaintexts = map[string]string{
	"ct-1": "sk-live-EXAMPLE-openai-main-not-a-real-key",
	"ct-2": "azure-EXAMPLE-4f1c9b2e-not-a-real-key",
}

func goldenDecrypt(_ int64, ct []byte) (string, error) {
	pt, ok := goldenPlaintexts[string(ct)]
	if !ok {
		return "", fmt.Errorf("unknown ciphertext %q", ct)
	}
	return pt, nil
}

func ptr[T any](v T) *T { return &v }

// goldenData is the fixture: one active OpenAI provider in route group
// "default", one disabled Azure provider in "eu", master "acme" with one key
// in a rotation's grace period, model default.gpt-4o and its binding with an
// ok candidate (default) and a no_provider one (eu), and two feature flags.
func goldenData() ports.SnapshotData {
	keyExpiry := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return ports.SnapshotData{
		Version: goldenVersion,
		Providers: []domain.Provider{
			{ID: 1, Name: "openai-main", Type: "openai", BaseURL: "https://api.openai.com/v1", Group: "default", GroupID: 1,
				Models: []string{"gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"}, Weight: 100, Priority: 0,
				Status: domain.ProviderActive, AutoBan: true},
			{ID: 2, Name: "azure-eu", Type: "compatible", BaseURL: "https://acme-eu.openai.azure.com/openai/v1", Group: "eu",
				GroupID: 2, Models: []string{"gpt-4o-2024-08-06"}, Weight: 50, Priority: 1, Status: domain.ProviderDisabled},
		},
		Ciphertexts: map[int64][]byte{1: []byte("ct-1"), 2: []byte("ct-2")},
		Masters: []domain.Master{
			{ID: 7, Name: "acme", Group: "default", Status: domain.MasterActive, MaxKeys: 50, DefaultRPM: 600, DefaultTPM: 200000,
				MaxRPM: 1200, BudgetPeriod: domain.BudgetMonthly, MaxBudgetUSD: ptr(100.0), DefaultNamespace: "default"},
		},
		Keys: []domain.Key{
			{ID: 31, MasterID: 7, Name: "prod-backend", TokenHash: domain.HashToken(goldenToken),
				PrevTokenHash: domain.HashToken(goldenPrevToken), PrevExpiresAt: ptr(goldenNow.Add(24 * time.Hour)),
				Group: "default", AllowedModels: []string{"default.gpt-4o"}, AllowedIPs: []string{"203.0.113.0/24"},
				RPMLimit: 0, TPMLimit: 50000, BudgetUSD: ptr(25.0), BudgetPeriod: domain.BudgetMonthly,
				ExpiresAt: &keyExpiry, Status: domain.KeyActive, DefaultNamespace: "default"},
			{ID: 30, MasterID: 7, Name: "ci-pipeline", TokenHash: domain.HashToken(goldenCIToken), Group: "default",
				Status: domain.KeyRevoked, BudgetPeriod: domain.BudgetNone, DefaultNamespace: "default"},
		},
		Models: []domain.Model{
			{ID: 5, Namespace: "default", Name: "gpt-4o", Kind: domain.ModelChat, ContextWindow: ptr(128000),
				MaxOutputTokens: ptr(16384), InputPricePerMTok: 2.5, OutputPricePerMTok: 10, SupportsVision: true,
				SupportsFunctions: true, SupportsToolChoice: true, SupportsStream: true, Status: domain.StatusActive},
		},
		Bindings: []domain.Binding{
			{ID: 9, ModelID: 5, Namespace: "default", PublicModel: "gpt-4o", Status: domain.StatusActive,
				UpdatedAt: time.Date(2025, 5, 30, 8, 0, 0, 0, time.UTC),
				Candidates: []domain.BindingCandidate{
					{RouteGroup: "default", Weight: 100, SelectorType: domain.SelectorRegex, SelectorValue: "^gpt-4o-2024"},
					{RouteGroup: "eu", Weight: 50, SelectorType: domain.SelectorNormalizeExact, SelectorValue: "openai/GPT-4o-2024-08-06"},
				}},
		},
		GroupIDs: map[string]int64{"default": 1, "eu": 2},
		Features: map[string]string{"dp_state_store_backend": "redis", "dp_claude_cross_upstream": "false"},
	}
}

// goldenPreviousData is the state two versions earlier, the start of the
// delta example: azure-eu was still active and key 30 not yet revoked.
func goldenPreviousData() ports.SnapshotData {
	d := goldenData()
	d.Version = goldenVersion - 2
	d.Providers[1].Status = domain.ProviderActive
	d.Keys[1].Status = domain.KeyActive
	return d
}

func goldenBuild(t testing.TB, d ports.SnapshotData) *snapshot.State {
	t.Helper()
	s, err := snapshot.Build(d, goldenDecrypt, goldenNow)
	require.NoError(t, err)
	return s
}

// goldenMeta is meta:snapshot as the Redis store writes it for the fixture.
func goldenMeta(s *snapshot.State) map[string]string {
	m := map[string]string{
		"version":    strconv.FormatInt(s.Version, 10),
		"checksum":   s.Checksum(),
		"updated_at": strconv.FormatInt(goldenNow.Unix(), 10),
	}
	for k, n := range s.Counts() {
		m["count:"+k] = strconv.Itoa(n)
	}
	for k, c := range s.Meta(goldenNow).Checksums {
		m["checksum:"+k] = c
	}
	return m
}

// goldenEvent is the event published after a full resync or after the delta
// from goldenPreviousData to goldenData (changes sorted by key, then field;
// the publisher does not promise an order).
func goldenEvent(t testing.TB, kind string) snapshot.Event {
	t.Helper()
	after := goldenBuild(t, goldenData())
	switch kind {
	case "full":
		return snapshot.Event{Version: after.Version, Kind: "full", Changes: []snapshot.EventChange{}}
	case "delta":
		before := goldenBuild(t, goldenPreviousData())
		ops := snapshot.Diff(before.Sections, after.Sections)
		ev := snapshot.Event{Version: after.Version, Kind: "delta", Changes: make([]snapshot.EventChange, len(ops))}
		for i, op := range ops {
			ev.Changes[i] = snapshot.EventChange{Key: op.Key, Field: op.Field, Op: "set"}
			if op.Del {
				ev.Changes[i].Op = "del"
			}
		}
		sort.Slice(ev.Changes, func(i, j int) bool {
			a, b := ev.Changes[i], ev.Changes[j]
			return a.Key < b.Key || a.Key == b.Key && a.Field < b.Field
		})
		return ev
	}
	t.Fatalf("unknown event kind %q", kind)
	return snapshot.Event{}
}

// jsonValuedKeys are the data hashes whose values are JSON documents;
// meta:features holds plain strings.
var jsonValuedKeys = map[string]bool{
	snapshot.KeyProviders: true, snapshot.KeyAuthKeys: true, snapshot.KeyMasters: true,
	snapshot.KeyModels: true, snapshot.KeyBindings: true,
}

// goldenExpected is the JSON a golden block must equal: the stored value of
// one field of a JSON-valued hash, or a whole hash of strings as an object,
// or an event.
func goldenExpected(t testing.TB, s *snapshot.State, key, field string) (string, error) {
	t.Helper()
	marshal := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	switch {
	case jsonValuedKeys[key]:
		if field == "" {
			return "", fmt.Errorf("%s: a golden block of this hash must name a field", key)
		}
		v, ok := s.Sections[key][field]
		if !ok {
			return "", fmt.Errorf("%s has no field %q in the fixture", key, field)
		}
		return v, nil
	case key == snapshot.KeyFeatures && field == "":
		return marshal(s.Sections[key])
	case key == snapshot.KeyModelsMeta && field == "":
		return marshal(s.ModelsMeta(goldenNow))
	case key == snapshot.KeySnapshot && field == "":
		return marshal(goldenMeta(s))
	case key == snapshot.Channel && (field == "full" || field == "delta"):
		return marshal(goldenEvent(t, field))
	}
	return "", fmt.Errorf("no golden value for key %q field %q", key, field)
}

// goldenBlock is one marked example of the document.
type goldenBlock struct {
	Key, Field string
	Line       int // of the marker
	JSON       string
}

func (b goldenBlock) String() string {
	if b.Field == "" {
		return fmt.Sprintf("<!-- golden: %s --> (line %d)", b.Key, b.Line)
	}
	return fmt.Sprintf("<!-- golden: %s %s --> (line %d)", b.Key, b.Field, b.Line)
}

var goldenMarker = regexp.MustCompile(`^<!-- golden: (\S+)(?: (\S+))? -->$`)

// readDoc returns the document and its golden blocks. Every ```json block
// must be marked, and every marker must be followed by a ```json block.
func readDoc(t testing.TB) (string, []goldenBlock) {
	t.Helper()
	raw, err := os.ReadFile(docPath)
	require.NoError(t, err)
	var (
		blocks  []goldenBlock
		pending *goldenBlock
		inJSON  *goldenBlock
		body    strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if inJSON != nil {
			if strings.TrimSpace(line) == "```" {
				inJSON.JSON = body.String()
				blocks = append(blocks, *inJSON)
				inJSON = nil
				body.Reset()
				continue
			}
			body.WriteString(line + "\n")
			continue
		}
		if m := goldenMarker.FindStringSubmatch(line); m != nil {
			require.Nil(t, pending, "%s is not followed by a ```json block", pending)
			pending = &goldenBlock{Key: m[1], Field: m[2], Line: n}
			continue
		}
		if strings.HasPrefix(line, "```json") {
			require.NotNil(t, pending, "line %d: a ```json block without a <!-- golden: … --> marker on the line before", n)
			require.Equal(t, pending.Line, n-1, "%s must be directly before its ```json block", pending)
			inJSON, pending = pending, nil
			continue
		}
		require.Nil(t, pending, "%s must be directly followed by a ```json block", pending)
		require.False(t, strings.HasPrefix(strings.TrimSpace(line), "<!-- golden"), "line %d: malformed golden marker", n)
	}
	require.NoError(t, sc.Err())
	require.Nil(t, inJSON, "%s: unterminated ```json block", inJSON)
	require.Nil(t, pending, "%s: not followed by a ```json block", pending)
	return string(raw), blocks
}

func decodeAny(t testing.TB, what, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), "%s is not valid JSON", what)
	return v
}

// TestDocGoldenExamples checks every marked JSON example of docs/snapshot.md
// against the snapshot the fixture builds, so the document cannot drift from
// the JSON shapes.
func TestDocGoldenExamples(t *testing.T) {
	t.Parallel()
	s := goldenBuild(t, goldenData())
	if *printGolden {
		printGoldenBlocks(t, s)
	}
	_, blocks := readDoc(t)
	require.NotEmpty(t, blocks)
	seen := map[string]bool{}
	for _, b := range blocks {
		id := b.Key + " " + b.Field
		assert.False(t, seen[id], "%s: duplicate golden block", b)
		seen[id] = true
		want, err := goldenExpected(t, s, b.Key, b.Field)
		if !assert.NoError(t, err, "%s", b) {
			continue
		}
		assert.Equal(t, decodeAny(t, "the fixture's value", want), decodeAny(t, b.String(), b.JSON),
			"%s differs from what snapshot.Build produces (expected: fixture, actual: document)", b)
	}

	// Every field of every data hash is shown, so the hashes in the
	// document are the whole fixture snapshot (see TestDocChecksumTestVector).
	for _, key := range snapshot.DataKeys {
		if !jsonValuedKeys[key] {
			assert.True(t, seen[key+" "], "no <!-- golden: %s --> block", key)
			continue
		}
		for field := range s.Sections[key] {
			assert.True(t, seen[key+" "+field], "no <!-- golden: %s %s --> block", key, field)
		}
	}
	for _, id := range []string{snapshot.KeyModelsMeta + " ", snapshot.KeySnapshot + " ",
		snapshot.Channel + " full", snapshot.Channel + " delta"} {
		assert.True(t, seen[id], "no <!-- golden: %s--> block", id)
	}
}

// TestDocChecksumTestVector checks that the data hashes shown in the
// document, compacted, are byte for byte what Redis holds for the fixture,
// and that their checksum is the one the document's meta:snapshot shows:
// a balancer author can test an implementation against the document alone.
func TestDocChecksumTestVector(t *testing.T) {
	t.Parallel()
	s := goldenBuild(t, goldenData())
	_, blocks := readDoc(t)
	sections := map[string]map[string]string{}
	for _, k := range snapshot.DataKeys {
		sections[k] = map[string]string{}
	}
	var meta map[string]string
	for _, b := range blocks {
		switch {
		case jsonValuedKeys[b.Key]:
			var buf bytes.Buffer
			require.NoError(t, json.Compact(&buf, []byte(b.JSON)), "%s", b)
			sections[b.Key][b.Field] = buf.String()
		case b.Key == snapshot.KeyFeatures:
			var m map[string]string
			require.NoError(t, json.Unmarshal([]byte(b.JSON), &m), "%s", b)
			sections[b.Key] = m
		case b.Key == snapshot.KeySnapshot:
			require.NoError(t, json.Unmarshal([]byte(b.JSON), &meta), "%s", b)
		}
	}
	for _, k := range snapshot.DataKeys {
		for f, v := range s.Sections[k] {
			assert.Equal(t, v, sections[k][f],
				"%s %s: the compacted example must be byte for byte the stored value (same field order)", k, f)
		}
	}
	require.NotNil(t, meta, "no meta:snapshot example")
	assert.Equal(t, s.Checksum(), snapshot.Checksum(sections))
	assert.Equal(t, snapshot.Checksum(sections), meta["checksum"],
		"the checksum in the document's meta:snapshot example is the checksum of its example hashes")
	for _, k := range snapshot.DataKeys {
		assert.Equal(t, strconv.Itoa(len(sections[k])), meta["count:"+k], "meta:snapshot count:%s", k)
		assert.Equal(t, snapshot.SectionSum(k, sections[k]).String(), meta["checksum:"+k], "meta:snapshot checksum:%s", k)
	}
}

// TestDocListsEveryKey checks that the document names every Redis key of
// the contract and the example tokens behind the auth:keys fields.
func TestDocListsEveryKey(t *testing.T) {
	t.Parallel()
	doc, _ := readDoc(t)
	keys := append([]string{snapshot.KeyModelsMeta, snapshot.KeySnapshot, snapshot.Channel, snapshot.RefreshChannel}, snapshot.DataKeys...)
	for _, k := range keys {
		assert.Contains(t, doc, "`"+k+"`", "docs/snapshot.md must describe %s", k)
		assert.Contains(t, doc, "### `"+k+"`", "docs/snapshot.md needs a section for %s", k)
	}
	for _, tok := range []string{goldenToken, goldenPrevToken, goldenCIToken} {
		assert.Contains(t, doc, tok, "the example token")
		assert.Contains(t, doc, domain.HashToken(tok), "the sha256 of the example token %s", tok)
	}
	for _, k := range []string{"count:" + snapshot.KeyProviders, "redis.key_prefix", "/balancers/heartbeat"} {
		assert.Contains(t, doc, k)
	}
}

// printGoldenBlocks logs the golden blocks of the fixture in document form.
func printGoldenBlocks(t *testing.T, s *snapshot.State) {
	var out strings.Builder
	emit := func(key, field, js string) {
		var buf bytes.Buffer
		require.NoError(t, json.Indent(&buf, []byte(js), "", "  "))
		marker := key
		if field != "" {
			marker += " " + field
		}
		fmt.Fprintf(&out, "<!-- golden: %s -->\n```json\n%s\n```\n\n", marker, buf.String())
	}
	for _, key := range snapshot.DataKeys {
		if !jsonValuedKeys[key] {
			js, err := goldenExpected(t, s, key, "")
			require.NoError(t, err)
			emit(key, "", js)
			continue
		}
		fields := make([]string, 0, len(s.Sections[key]))
		for f := range s.Sections[key] {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			emit(key, f, s.Sections[key][f])
		}
	}
	for _, kf := range [][2]string{{snapshot.KeyModelsMeta, ""}, {snapshot.KeySnapshot, ""},
		{snapshot.Channel, "full"}, {snapshot.Channel, "delta"}} {
		js, err := goldenExpected(t, s, kf[0], kf[1])
		require.NoError(t, err)
		emit(kf[0], kf[1], js)
	}
	fmt.Fprintf(&out, "tokens: current %s → %s\nprevious %s → %s\nci %s → %s\n",
		goldenToken, domain.HashToken(goldenToken), goldenPrevToken, domain.HashToken(goldenPrevToken),
		goldenCIToken, domain.HashToken(goldenCIToken))
	t.Log("\n" + out.String())
}
