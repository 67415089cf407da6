// Client keys of one master: list with usage against quota and budget,
// create (the token shown once), rotate with grace, revoke. Operators reach
// them through /admin/masters/{id}/keys, a tenant through /keys.
import { useState } from "preact/hooks";

import { api, canWrite, session, type Problem, type Schemas } from "./api";
import { submit, useLoad } from "./load";
import { Field, Input, Pager, ProblemBanner, SecretOnce, Status, UsageBar, list, usd, usePager, when } from "./ui";

type Key = Schemas["Key"];

function KeyForm(props: { masterId: number | null; onCreated: (k: Schemas["KeyCreated"]) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [models, setModels] = useState("");
  const [rpm, setRPM] = useState("");
  const [quota, setQuota] = useState("");
  const [budget, setBudget] = useState("");
  const [period, setPeriod] = useState<Schemas["BudgetPeriod"]>("none");
  const [problem, setProblem] = useState<Problem | null>(null);
  const save = async (ev: Event) => {
    ev.preventDefault();
    const body: Schemas["CreateKeyRequest"] = {
      name,
      ...(models ? { allowed_models: list(models) } : {}),
      ...(rpm ? { rpm_limit: Number(rpm) } : {}),
      ...(quota ? { quota_tokens: Number(quota) } : {}),
      ...(budget ? { budget_usd: Number(budget), budget_period: period } : {}),
    };
    const created = props.masterId === null
      ? await submit(api.POST("/keys", { body }), setProblem)
      : await submit(api.POST("/admin/masters/{id}/keys", { params: { path: { id: props.masterId } }, body }), setProblem);
    if (created) props.onCreated(created);
  };
  return (
    <form class="card form" onSubmit={save} aria-label="New key">
      <h3>New key</h3>
      <Input name="name" label="Key name" problem={problem} value={name} onValue={setName} />
      <Input name="allowed_models" label="Allowed models (comma-separated, empty: all)" problem={problem} value={models} onValue={setModels} />
      <Input name="rpm_limit" label="Requests per minute" problem={problem} type="number" value={rpm} onValue={setRPM} />
      <Input name="quota_tokens" label="Token quota" problem={problem} type="number" value={quota} onValue={setQuota} />
      <Input name="budget_usd" label="Budget (USD)" problem={problem} type="number" step="any" value={budget} onValue={setBudget} />
      <Field name="budget_period" label="Budget period" problem={problem}>
        <select id="f-budget_period" value={period} onChange={(x) => setPeriod(x.currentTarget.value as Schemas["BudgetPeriod"])}>
          <option value="none">none</option>
          <option value="daily">daily</option>
          <option value="monthly">monthly</option>
        </select>
      </Field>
      <ProblemBanner problem={problem} named={["name", "allowed_models", "rpm_limit", "quota_tokens", "budget_usd", "budget_period"]} />
      <div class="actions">
        <button type="submit">Create key</button>
        <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function RotateForm(props: { k: Key; onRotated: (k: Schemas["KeyCreated"]) => void; onCancel: () => void }) {
  const [grace, setGrace] = useState("300");
  const [problem, setProblem] = useState<Problem | null>(null);
  const rotate = async (ev: Event) => {
    ev.preventDefault();
    const r = await submit(api.POST("/keys/{id}/rotate", { params: { path: { id: props.k.id } }, body: { grace_seconds: Number(grace) } }), setProblem);
    if (r) props.onRotated(r);
  };
  return (
    <form class="inline-form" onSubmit={rotate} aria-label={`Rotate key ${props.k.name}`}>
      <Input name="grace_seconds" label="Old token keeps working for (seconds)" problem={problem} type="number" value={grace} onValue={setGrace} />
      <ProblemBanner problem={problem} named={["grace_seconds"]} />
      <button type="submit">Rotate</button>
      <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
    </form>
  );
}

export function KeysPanel(props: { masterId: number | null; title: string }) {
  const writable = canWrite(session()?.principal, "keys") && (props.masterId === null || canWrite(session()?.principal, "masters"));
  const pager = usePager();
  const [creating, setCreating] = useState(false);
  const [rotating, setRotating] = useState<Key | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const q = pager.cursor ? { cursor: pager.cursor } : {};
  const { data, problem: loadProblem, reload } = useLoad(
    () => (props.masterId === null ? api.GET("/keys", { params: { query: q } }) : api.GET("/admin/masters/{id}/keys", { params: { path: { id: props.masterId }, query: q } })),
    [props.masterId, pager.cursor],
  );
  const shown = (k: Schemas["KeyCreated"]) => {
    setCreating(false);
    setRotating(null);
    setSecret(k.token);
    reload();
  };
  const revoke = async (k: Key) => {
    if (!confirm(`Revoke key ${k.name}? It stops working at once.`)) return;
    if (await submit(api.DELETE("/keys/{id}", { params: { path: { id: k.id } } }), setProblem)) reload();
  };
  return (
    <section class="keys" aria-label={props.title}>
      <header class="page-head">
        <h2>{props.title}</h2>
        {writable && <button type="button" onClick={() => { setSecret(null); setCreating(true); }}>New key</button>}
      </header>
      {secret && <SecretOnce label="client key" token={secret} onDone={() => setSecret(null)} />}
      {creating && <KeyForm masterId={props.masterId} onCreated={shown} onCancel={() => setCreating(false)} />}
      {rotating && <RotateForm k={rotating} onRotated={shown} onCancel={() => setRotating(null)} />}
      <ProblemBanner problem={loadProblem ?? problem} />
      <table data-testid="keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Prefix</th>
            <th scope="col">Status</th>
            <th scope="col">Usage</th>
            <th scope="col">Expires</th>
            {writable && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((k) => (
            <tr data-name={k.name}>
              <td>{k.name}</td>
              <td><code>{k.prefix}</code></td>
              <td>
                <Status value={k.status} />
                {k.grace_until && <small> old token until {when(k.grace_until)}</small>}
              </td>
              <td class="usage-cell">
                <UsageBar label="Tokens" used={k.usage.tokens} limit={k.quota_tokens} />
                <UsageBar label={`Spend (${k.budget_period})`} used={k.usage.cost_usd} limit={k.budget_usd} format={usd} />
              </td>
              <td>{when(k.expires_at)}</td>
              {writable && (
                <td class="row-actions">
                  {k.status !== "revoked" && (
                    <>
                      <button type="button" class="secondary small" onClick={() => { setSecret(null); setRotating(k); }}>Rotate</button>
                      <button type="button" class="danger small" onClick={() => revoke(k)}>Revoke</button>
                    </>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pager={pager} next={data?.next_cursor} label="Pages of keys" />
    </section>
  );
}
