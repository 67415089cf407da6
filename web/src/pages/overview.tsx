// Overview: usage over 24 h / 7 d / 30 d (GET /stats/usage), the top
// models, providers and masters, and the snapshot status (GET /sync/status).
import { useMemo, useState } from "preact/hooks";

import { api, canRead, canWrite, isTenant, session, type Problem, type Schemas } from "../api";
import { TimeChart } from "../chart";
import { submit, useLoad } from "../load";
import { Page, ProblemBanner, usd, when } from "../ui";

type Range = "24h" | "7d" | "30d";
const ranges: Record<Range, { hours: number; bucket: "hour" | "day" }> = {
  "24h": { hours: 24, bucket: "hour" },
  "7d": { hours: 24 * 7, bucket: "day" },
  "30d": { hours: 24 * 30, bucket: "day" },
};

export function window(range: Range): { from: string; to: string } {
  const to = new Date(Date.now() + 60 * 60 * 1000);
  to.setUTCMinutes(0, 0, 0);
  const from = new Date(to.getTime() - ranges[range].hours * 3600 * 1000);
  return { from: from.toISOString(), to: to.toISOString() };
}

// buckets lays the rows on every hour (24 h) or day of the range, zero
// where there was no traffic, so the chart spans the whole range.
function buckets(range: Range, rows: Schemas["UsageRow"][]) {
  const step = (ranges[range].bucket === "hour" ? 3600 : 86400) * 1000;
  const w = window(range);
  const first = Math.floor(Date.parse(w.from) / step) * step;
  const byTime = new Map(rows.map((r) => [Math.floor(Date.parse(r.group) / step) * step, r]));
  const out = { times: [] as number[], requests: [] as number[], tokens: [] as number[], cost: [] as number[], errorRate: [] as number[] };
  for (let t = first; t < Date.parse(w.to); t += step) {
    const r = byTime.get(t);
    out.times.push(t / 1000);
    out.requests.push(r?.requests ?? 0);
    out.tokens.push(r ? r.prompt_tokens + r.completion_tokens : 0);
    out.cost.push(r?.cost_usd ?? 0);
    out.errorRate.push(r && r.requests ? (100 * r.errors) / r.requests : 0);
  }
  return out;
}

// useNames maps provider and master ids (the stats' groups) to names.
function useNames(tenant: boolean) {
  const providers = useLoad(() => (tenant ? Promise.resolve({ data: undefined, response: new Response() }) : api.GET("/providers", { params: { query: { limit: 500 } } })), [tenant]);
  const masters = useLoad(() => (tenant ? Promise.resolve({ data: undefined, response: new Response() }) : api.GET("/admin/masters", { params: { query: { limit: 500 } } })), [tenant]);
  return {
    providers: new Map((providers.data?.items ?? []).map((x) => [String(x.id), x.name])),
    masters: new Map((masters.data?.items ?? []).map((x) => [String(x.id), x.name])),
  };
}

// label names a usage group: by its name when known; a provider or master
// id of 0 is traffic logged without one, any other unknown id is shown as such.
function label(group: string, names: Map<string, string> | undefined): string {
  if (!names) return group;
  const name = names.get(group);
  if (name !== undefined) return name;
  return group === "0" ? "(none)" : `#${group}`;
}

function Top(props: { title: string; rows: Schemas["UsageRow"][] | undefined; testid: string; names?: Map<string, string> }) {
  const rows = [...(props.rows ?? [])].sort((a, b) => b.requests - a.requests).slice(0, 5);
  return (
    <div class="card" data-testid={props.testid}>
      <h2>{props.title}</h2>
      {rows.length === 0 ? (
        <p class="empty">No traffic in this range.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Requests</th>
              <th scope="col">Tokens</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr>
                <td>{label(r.group, props.names)}</td>
                <td>{r.requests}</td>
                <td>{r.prompt_tokens + r.completion_tokens}</td>
                <td>{usd(r.cost_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function useUsage(range: Range, group_by: Schemas["UsageStats"]["group_by"] & ("model" | "key" | "master" | "provider" | "hour" | "day")) {
  const w = window(range);
  return useLoad(() => api.GET("/stats/usage", { params: { query: { ...w, group_by } } }), [range, group_by]);
}

function SyncStatus(props: { writable: boolean }) {
  const { data: s, problem, reload } = useLoad(() => api.GET("/sync/status"), []);
  const [resyncProblem, setResyncProblem] = useState<Problem | null>(null);
  const [resynced, setResynced] = useState<Schemas["ResyncResult"] | null>(null);
  const resync = async () => {
    const r = await submit(api.POST("/sync/snapshot"), setResyncProblem);
    if (r) {
      setResynced(r);
      reload();
    }
  };
  return (
    <div class="card wide" data-testid="sync-status">
      <h2>
        Snapshot status{" "}
        <button type="button" class="secondary small" onClick={reload}>
          Refresh
        </button>{" "}
        {props.writable && (
          <button type="button" class="secondary small" onClick={resync}>
            Resync snapshot
          </button>
        )}
      </h2>
      <ProblemBanner problem={problem ?? resyncProblem} />
      {resynced && (
        <p class="notice" role="status" data-testid="resynced">
          Republished version {resynced.version} in {Math.round(resynced.duration_ms)} ms.
        </p>
      )}
      {s && (
        <>
          <dl class="facts">
            <dt>Database version</dt>
            <dd>{s.database_version}</dd>
            <dt>Redis version</dt>
            <dd>{s.redis_version}</dd>
            <dt>Checksum</dt>
            <dd class={s.in_sync ? "ok" : "bad"} data-testid="in-sync">
              {s.in_sync ? "match" : "MISMATCH"} <code>{s.redis_checksum.slice(0, 12)}</code>
            </dd>
            <dt>Outbox backlog</dt>
            <dd>{s.outbox_backlog}</dd>
            <dt>Last publish</dt>
            <dd>{when(s.last_publish_at)}</dd>
            {s.redis_error && (
              <>
                <dt>Redis error</dt>
                <dd class="bad">{s.redis_error}</dd>
              </>
            )}
            {s.last_error && (
              <>
                <dt>Last error</dt>
                <dd class="bad">{s.last_error}</dd>
              </>
            )}
          </dl>
          <h3>Balancers</h3>
          {s.balancers.length === 0 ? (
            <p class="empty">No balancer has reported.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Instance</th>
                  <th scope="col">Applied version</th>
                  <th scope="col">Lag</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {s.balancers.map((b) => (
                  <tr>
                    <td>{b.instance_id}</td>
                    <td>{b.snapshot_version}</td>
                    <td class={b.lag > 0 ? "bad" : "ok"}>{b.lag}</td>
                    <td>{when(b.last_seen)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {(s.faults ?? []).length > 0 && (
            <>
              <h3>Faults</h3>
              <ul>
                {(s.faults ?? []).map((f) => (
                  <li class="bad">
                    {f.key} {f.field}: {f.reason}
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </div>
  );
}

export function OverviewPage() {
  const [range, setRange] = useState<Range>("24h");
  const p = session()?.principal;
  const series = useUsage(range, ranges[range].bucket);
  const models = useUsage(range, "model");
  const providers = useUsage(range, isTenant(p) ? "key" : "provider");
  const masters = useUsage(range, isTenant(p) ? "key" : "master");
  const charts = useMemo(() => buckets(range, series.data?.rows ?? []), [series.data]);
  const names = useNames(isTenant(p));

  return (
    <Page
      title="Overview"
      actions={
        <div class="tabs" role="group" aria-label="Time range">
          {(Object.keys(ranges) as Range[]).map((r) => (
            <button type="button" aria-pressed={r === range} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </div>
      }
    >
      <ProblemBanner problem={series.problem} />
      <div class="grid charts">
        <TimeChart testid="chart-requests" title="Requests" times={charts.times} values={charts.requests} />
        <TimeChart testid="chart-tokens" title="Tokens" times={charts.times} values={charts.tokens} />
        <TimeChart testid="chart-cost" title="Cost (USD)" times={charts.times} values={charts.cost} format={usd} />
        <TimeChart testid="chart-errors" title="Error rate (%)" times={charts.times} values={charts.errorRate} format={(n) => n.toFixed(1) + "%"} />
      </div>
      <div class="grid">
        <Top testid="top-models" title="Top models" rows={models.data?.rows} />
        {isTenant(p) ? (
          <Top testid="top-keys" title="Top keys" rows={providers.data?.rows} />
        ) : (
          <>
            <Top testid="top-providers" title="Top providers" rows={providers.data?.rows} names={names.providers} />
            <Top testid="top-masters" title="Top masters" rows={masters.data?.rows} names={names.masters} />
          </>
        )}
      </div>
      {canRead(p, "sync") && <SyncStatus writable={canWrite(p, "sync")} />}
    </Page>
  );
}
