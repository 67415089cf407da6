package postgres

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// rollKey is one group of a roll-up: its bucket (unix seconds) and the
// dimensions it keeps (absent ones are zero, as the tables store them).
type rollKey struct {
	bucket                  int64
	keyID, masterID, provID int64
	model                   string
}

// rollSum is what a group adds to its roll-up row. Integer sums saturate at
// the bigint maximum, as the SQL that adds them to the stored rows does.
type rollSum struct {
	requests, errors, prompt, completion, latencySum, latencyMax int64
	cost                                                         float64
}

func satAdd64(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (s *rollSum) add(r domain.LogRecord) {
	s.requests++
	if r.StatusCode >= 400 {
		s.errors++
	}
	s.prompt = satAdd64(s.prompt, r.PromptTokens)
	s.completion = satAdd64(s.completion, r.CompletionTokens)
	s.latencySum = satAdd64(s.latencySum, int64(r.LatencyMS))
	s.latencyMax = max(s.latencyMax, int64(r.LatencyMS))
	s.cost += *r.CostUSD
}

func idOrZero(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// groupKey is r's group in roll-up ru.
func (ru rollup) groupKey(r domain.LogRecord) rollKey {
	// Truncate counts from the zero time, a UTC midnight: hours, 6-hour
	// blocks and days all start on UTC boundaries, as the SQL expressions do.
	k := rollKey{bucket: r.CreatedAt.Truncate(time.Duration(ru.hours) * time.Hour).Unix()}
	for _, d := range ru.dims {
		switch d {
		case "key_id":
			k.keyID = idOrZero(r.KeyID)
		case "master_id":
			k.masterID = idOrZero(r.MasterID)
		case "provider_id":
			k.provID = idOrZero(r.ProviderID)
		case "model":
			k.model = r.Model
		}
	}
	return k
}

// upsertArrays is the CTE body that adds groups passed as parallel arrays,
// from parameter $first on, to ru.
func (ru rollup) upsertArrays(first int) string {
	keys := ru.keyCols()
	n := first
	param := func(typ string) string {
		p := "$" + strconv.Itoa(n) + "::" + typ + "[]"
		n++
		return p
	}
	cols := []string{ru.levelExpr() + "to_timestamp(g.b)"}
	arrays := []string{param("bigint")}
	names := []string{"b"}
	for i, d := range ru.dims {
		typ := "bigint"
		if d == "model" {
			typ = "text"
		}
		arrays = append(arrays, param(typ))
		names = append(names, "d"+strconv.Itoa(i))
		cols = append(cols, "g.d"+strconv.Itoa(i))
	}
	for _, m := range []struct{ name, typ string }{{"requests", "bigint"}, {"errors", "bigint"}, {"prompt", "bigint"},
		{"completion", "bigint"}, {"cost", "double precision"}, {"latency_sum", "bigint"}, {"latency_max", "bigint"}} {
		arrays = append(arrays, param(m.typ))
		names = append(names, m.name)
		cols = append(cols, "g."+m.name)
	}
	return `INSERT INTO ` + ru.table + ` AS u (` + strings.Join(keys, ", ") + `, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, latency_sum, latency_max)
  SELECT ` + strings.Join(cols, ", ") + `
  FROM unnest(` + strings.Join(arrays, ", ") + `) AS g(` + strings.Join(names, ", ") + `)
  ON CONFLICT (` + strings.Join(keys, ", ") + `) DO UPDATE SET ` + rollupSet
}

// rollupSet adds EXCLUDED to the stored roll-up row u, saturating.
var rollupSet = `
    requests = ` + satAdd("u.requests", "EXCLUDED.requests") + `, errors = ` + satAdd("u.errors", "EXCLUDED.errors") + `,
    prompt_tokens = ` + satAdd("u.prompt_tokens", "EXCLUDED.prompt_tokens") + `,
    completion_tokens = ` + satAdd("u.completion_tokens", "EXCLUDED.completion_tokens") + `,
    cost_usd = u.cost_usd + EXCLUDED.cost_usd, latency_sum = ` + satAdd("u.latency_sum", "EXCLUDED.latency_sum") + `,
    latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max)`

// rollupParams is how many parameters rollup ru's arrays take.
func (ru rollup) params() int { return 1 + len(ru.dims) + 7 }

// accountRecords adds groups summed in Go to every roll-up and the keys'
// usage, in one statement; it returns the keys it touched.
var accountRecords = func() string {
	var b strings.Builder
	b.WriteString("WITH ")
	n := 1
	for i, r := range rollups {
		fmt.Fprintf(&b, "roll%d AS (\n  %s\n), ", i, r.upsertArrays(n))
		n += r.params()
	}
	fmt.Fprintf(&b, `used AS (
  UPDATE keys k SET used_tokens = `+satAdd("k.used_tokens", "a.tokens")+`, used_usd = k.used_usd + a.cost
  FROM unnest($%d::bigint[], $%d::bigint[], $%d::double precision[]) AS a(key_id, tokens, cost)
  WHERE k.id = a.key_id
  RETURNING k.id
)
SELECT coalesce(array_agg(id), '{}') FROM used`, n, n+1, n+2)
	return b.String()
}()

// account sums records[idx] (all just inserted) per roll-up group and per
// key, and adds the sums with accountRecords. Groups go in a fixed order,
// so concurrent writers lock shared roll-up rows in the same order.
func (w *LogWriter) account(ctx context.Context, tx *sqlx.Tx, records []domain.LogRecord, idx []int) ([]int64, error) {
	args := make([]any, 0, 64)
	for _, ru := range rollups {
		groups := make(map[rollKey]*rollSum)
		for _, i := range idx {
			k := ru.groupKey(records[i])
			s := groups[k]
			if s == nil {
				s = &rollSum{}
				groups[k] = s
			}
			s.add(records[i])
		}
		keys := make([]rollKey, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b rollKey) int {
			return cmp.Or(cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.keyID, b.keyID), cmp.Compare(a.masterID, b.masterID),
				cmp.Compare(a.model, b.model), cmp.Compare(a.provID, b.provID))
		})
		n := len(keys)
		bucket := make([]int64, n)
		dims := make([][]int64, len(ru.dims))
		var models []string
		for d := range dims {
			if ru.dims[d] == "model" {
				models = make([]string, n)
			} else {
				dims[d] = make([]int64, n)
			}
		}
		req, errs, prompt, compl, latSum, latMax := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n),
			make([]int64, n), make([]int64, n)
		cost := make([]float64, n)
		for j, k := range keys {
			s := groups[k]
			bucket[j] = k.bucket
			for d, name := range ru.dims {
				switch name {
				case "key_id":
					dims[d][j] = k.keyID
				case "master_id":
					dims[d][j] = k.masterID
				case "provider_id":
					dims[d][j] = k.provID
				case "model":
					models[j] = k.model
				}
			}
			req[j], errs[j], prompt[j], compl[j], latSum[j], latMax[j], cost[j] =
				s.requests, s.errors, s.prompt, s.completion, s.latencySum, s.latencyMax, s.cost
		}
		args = append(args, pq.Int64Array(bucket))
		for d, name := range ru.dims {
			if name == "model" {
				args = append(args, pq.StringArray(models))
			} else {
				args = append(args, pq.Int64Array(dims[d]))
			}
		}
		args = append(args, pq.Int64Array(req), pq.Int64Array(errs), pq.Int64Array(prompt), pq.Int64Array(compl),
			pq.Float64Array(cost), pq.Int64Array(latSum), pq.Int64Array(latMax))
	}
	type usage struct {
		tokens int64
		cost   float64
	}
	used := map[int64]*usage{}
	for _, i := range idx {
		r := records[i]
		if r.KeyID == nil {
			continue
		}
		u := used[*r.KeyID]
		if u == nil {
			u = &usage{}
			used[*r.KeyID] = u
		}
		u.tokens = satAdd64(u.tokens, satAdd64(r.PromptTokens, r.CompletionTokens))
		u.cost += *r.CostUSD
	}
	ids := make([]int64, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	tokens, costs := make([]int64, len(ids)), make([]float64, len(ids))
	for j, id := range ids {
		tokens[j], costs[j] = used[id].tokens, used[id].cost
	}
	args = append(args, pq.Int64Array(ids), pq.Int64Array(tokens), pq.Float64Array(costs))
	var touched pq.Int64Array
	if err := tx.QueryRowContext(ctx, accountRecords, args...).Scan(&touched); err != nil {
		return nil, fmt.Errorf("roll-ups and key usage: %w", err)
	}
	return touched, nil
}
