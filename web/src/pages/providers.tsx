// Providers: list and search, create, edit, disable. The upstream key is
// write-only: the list shows the server's mask, the form never shows a key.
import { useState } from "preact/hooks";

import { api, canWrite, session, type Problem, type Schemas } from "../api";
import { submit, useLoad } from "../load";
import { Field, Input, Page, Pager, ProblemBanner, Status, list, usePager } from "../ui";
import { window } from "./overview";

type Provider = Schemas["Provider"];
const types: Schemas["ProviderType"][] = ["openai", "compatible", "anthropic", "claude", "claude-code", "codex", "gemini-cli", "antigravity", "gemini", "google", "aistudio", "vertex", "vertex-express"];
const fields = ["name", "type", "base_url", "api_key", "group", "models", "weight", "priority"];

function ProviderForm(props: { editing: Provider | null; onDone: () => void }) {
  const e = props.editing;
  const [name, setName] = useState(e?.name ?? "");
  const [type, setType] = useState<string>(e?.type ?? "openai");
  const [baseURL, setBaseURL] = useState(e?.base_url ?? "");
  const [apiKey, setAPIKey] = useState("");
  const [group, setGroup] = useState(e?.group ?? "default");
  const [models, setModels] = useState((e?.models ?? []).join(", "));
  const [weight, setWeight] = useState(String(e?.weight ?? 1));
  const [priority, setPriority] = useState(String(e?.priority ?? 0));
  const [problem, setProblem] = useState<Problem | null>(null);

  const save = async (ev: Event) => {
    ev.preventDefault();
    const body = { name, type, group, models: list(models), weight: Number(weight), priority: Number(priority) };
    const done = e
      ? await submit(api.PATCH("/providers/{id}", { params: { path: { id: e.id } }, body: { ...body, base_url: baseURL || null, ...(apiKey ? { api_key: apiKey } : {}) } }), setProblem)
      : await submit(api.POST("/providers", { body: { ...body, ...(baseURL ? { base_url: baseURL } : {}), ...(apiKey ? { api_key: apiKey } : {}) } }), setProblem);
    if (done) props.onDone();
  };
  return (
    <form class="card form" onSubmit={save} aria-label={e ? `Edit provider ${e.name}` : "New provider"}>
      <h2>{e ? `Edit ${e.name}` : "New provider"}</h2>
      <Input name="name" label="Name" problem={problem} value={name} onValue={setName} />
      <Field name="type" label="Type" problem={problem}>
        <select id="f-type" value={type} onChange={(x) => setType(x.currentTarget.value)}>
          {types.map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
      </Field>
      <Input name="base_url" label="Base URL" problem={problem} hint="Required for compatible." value={baseURL} onValue={setBaseURL} />
      <Field name="api_key" label="Upstream API key" problem={problem} hint={e ? `Stored: ${e.api_key || "none"}. Leave empty to keep it.` : "Write-only: never shown again."}>
        <input id="f-api_key" type="password" autocomplete="off" value={apiKey} onInput={(x) => setAPIKey(x.currentTarget.value)} />
      </Field>
      <Input name="group" label="Route group" problem={problem} value={group} onValue={setGroup} />
      <Input name="models" label="Upstream models (comma-separated)" problem={problem} value={models} onValue={setModels} />
      <Input name="weight" label="Weight" problem={problem} type="number" value={weight} onValue={setWeight} />
      <Input name="priority" label="Priority" problem={problem} type="number" value={priority} onValue={setPriority} />
      <ProblemBanner problem={problem} named={fields} />
      <div class="actions">
        <button type="submit">{e ? "Save" : "Create provider"}</button>
        <button type="button" class="secondary" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function ProvidersPage() {
  const writable = canWrite(session()?.principal, "providers");
  const [prefix, setPrefix] = useState("");
  const pager = usePager();
  const [editing, setEditing] = useState<Provider | "new" | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const { data, problem: loadProblem, reload } = useLoad(
    () => api.GET("/providers", { params: { query: { ...(prefix ? { name_prefix: prefix } : {}), ...(pager.cursor ? { cursor: pager.cursor } : {}) } } }),
    [prefix, pager.cursor],
  );
  const stats = useLoad(() => api.GET("/stats/usage", { params: { query: { ...window("24h"), group_by: "provider" } } }), []);
  const byProvider = new Map((stats.data?.rows ?? []).map((r) => [r.group, r]));

  const disable = async (p: Provider) => {
    if (await submit(api.PATCH("/providers/{id}", { params: { path: { id: p.id } }, body: { status: p.status === "active" ? "disabled" : "active" } }), setProblem)) reload();
  };
  const done = () => {
    setEditing(null);
    reload();
  };
  return (
    <Page title="Providers" actions={writable && <button type="button" onClick={() => setEditing("new")}>New provider</button>}>
      {editing && <ProviderForm key={editing === "new" ? "new" : editing.id} editing={editing === "new" ? null : editing} onDone={done} />}
      <div class="filters">
        <label>
          Search by name prefix{" "}
          <input type="search" value={prefix} onInput={(x) => { pager.reset(); setPrefix(x.currentTarget.value); }} />
        </label>
      </div>
      <ProblemBanner problem={loadProblem ?? problem} />
      <table data-testid="providers">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Group</th>
            <th scope="col">Upstream key</th>
            <th scope="col">Models</th>
            <th scope="col">Weight / priority</th>
            <th scope="col">Status</th>
            <th scope="col">Errors (24 h)</th>
            <th scope="col">Avg latency</th>
            {writable && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((p) => {
            const s = byProvider.get(String(p.id));
            return (
              <tr data-name={p.name}>
                <td>{p.name}</td>
                <td>{p.type}</td>
                <td>{p.group}</td>
                <td><code>{p.api_key || "—"}</code></td>
                <td>{p.models.join(", ")}</td>
                <td>{p.weight} / {p.priority}</td>
                <td><Status value={p.status} /></td>
                <td>{s && s.requests ? `${((100 * s.errors) / s.requests).toFixed(1)}% of ${s.requests}` : "—"}</td>
                <td>{s && s.requests ? `${Math.round(s.avg_latency_ms)} ms` : "—"}</td>
                {writable && (
                  <td class="row-actions">
                    <button type="button" class="secondary small" onClick={() => setEditing(p)}>Edit</button>
                    <button type="button" class="secondary small" onClick={() => disable(p)}>{p.status === "active" ? "Disable" : "Enable"}</button>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      <Pager pager={pager} next={data?.next_cursor} />
    </Page>
  );
}
