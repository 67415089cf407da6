// Logs explorer: time range and filters, newest first, cursor paging.
import { useState } from "preact/hooks";

import { api, isTenant, session, type Problem } from "../api";
import { useLoad } from "../load";
import { Field, Page, Pager, ProblemBanner, usd, usePager, when } from "../ui";
import { window } from "./overview";

type StatusClass = "2xx" | "3xx" | "4xx" | "5xx";

interface Filters {
  hours: number;
  model: string;
  status_class: StatusClass | "";
  request_id: string;
  key_id: string;
  master_id: string;
}

export function LogsPage() {
  const tenant = isTenant(session()?.principal);
  const [draft, setDraft] = useState<Filters>({ hours: 24, model: "", status_class: "", request_id: "", key_id: "", master_id: "" });
  const [f, setF] = useState<Filters>(draft);
  const pager = usePager();
  const { data, problem } = useLoad(() => {
    const to = new Date(Date.parse(window("24h").to));
    const from = new Date(to.getTime() - f.hours * 3600 * 1000);
    return api.GET("/logs", {
      params: {
        query: {
          from: from.toISOString(),
          to: to.toISOString(),
          limit: 25,
          ...(f.model ? { model: f.model } : {}),
          ...(f.status_class ? { status_class: f.status_class } : {}),
          ...(f.request_id ? { request_id: f.request_id } : {}),
          ...(f.key_id ? { key_id: Number(f.key_id) } : {}),
          ...(f.master_id ? { master_id: Number(f.master_id) } : {}),
          ...(pager.cursor ? { cursor: pager.cursor } : {}),
        },
      },
    });
  }, [f, pager.cursor]);
  const set = (k: keyof Filters) => (x: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setDraft({ ...draft, [k]: k === "hours" ? Number(x.currentTarget.value) : x.currentTarget.value });
  const p: Problem | null = problem;
  return (
    <Page title="Logs">
      <form class="filters" aria-label="Log filters" onSubmit={(ev) => { ev.preventDefault(); pager.reset(); setF(draft); }}>
        <Field name="from" label="Range" problem={p}>
          <select id="f-from" value={draft.hours} onChange={set("hours")}>
            <option value={1}>last hour</option>
            <option value={24}>last 24 h</option>
            <option value={168}>last 7 d</option>
            <option value={720}>last 30 d</option>
          </select>
        </Field>
        <Field name="model" label="Model" problem={p}>
          <input id="f-model" value={draft.model} onInput={set("model")} />
        </Field>
        <Field name="status_class" label="Status" problem={p}>
          <select id="f-status_class" value={draft.status_class} onChange={set("status_class")}>
            <option value="">any</option>
            <option value="2xx">2xx</option>
            <option value="3xx">3xx</option>
            <option value="4xx">4xx</option>
            <option value="5xx">5xx</option>
          </select>
        </Field>
        <Field name="request_id" label="Request id" problem={p}>
          <input id="f-request_id" value={draft.request_id} onInput={set("request_id")} />
        </Field>
        <Field name="key_id" label="Key id" problem={p}>
          <input id="f-key_id" inputMode="numeric" value={draft.key_id} onInput={set("key_id")} />
        </Field>
        {!tenant && (
          <Field name="master_id" label="Master id" problem={p}>
            <input id="f-master_id" inputMode="numeric" value={draft.master_id} onInput={set("master_id")} />
          </Field>
        )}
        <button type="submit">Search</button>
      </form>
      <ProblemBanner problem={p} named={["from", "model", "status_class", "request_id", "key_id", "master_id"]} />
      <table data-testid="logs">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Request id</th>
            <th scope="col">Model</th>
            <th scope="col">Key</th>
            <th scope="col">Status</th>
            <th scope="col">Tokens</th>
            <th scope="col">Cost</th>
            <th scope="col">Latency</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((l) => (
            <tr data-request-id={l.request_id}>
              <td>{when(l.created_at)}</td>
              <td><code>{l.request_id}</code></td>
              <td>{l.model}</td>
              <td>{l.key_id ?? "—"}</td>
              <td class={l.status_code >= 400 ? "bad" : "ok"}>{l.status_code}</td>
              <td>{l.prompt_tokens + l.completion_tokens}</td>
              <td>{usd(l.cost_usd)}</td>
              <td>{l.latency_ms !== undefined ? `${l.latency_ms} ms` : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pager={pager} next={data?.next_cursor} />
    </Page>
  );
}
