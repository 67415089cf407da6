// Masters (tenants): list, create (the master token shown once), rotate the
// token, suspend; the selected master's limits and keys.
import { useState } from "preact/hooks";

import { api, canWrite, session, type Problem, type Schemas } from "../api";
import { KeysPanel } from "../keys";
import { submit, useLoad } from "../load";
import { Input, Page, Pager, ProblemBanner, SecretOnce, Status, usd, usePager } from "../ui";

type Master = Schemas["Master"];

function MasterForm(props: { onCreated: (m: Schemas["MasterCreated"]) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [group, setGroup] = useState("default");
  const [maxKeys, setMaxKeys] = useState("0");
  const [quota, setQuota] = useState("");
  const [budget, setBudget] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const save = async (ev: Event) => {
    ev.preventDefault();
    const body: Schemas["CreateMasterRequest"] = {
      name,
      group,
      max_keys: Number(maxKeys),
      ...(quota ? { max_quota_tokens: Number(quota) } : {}),
      ...(budget ? { max_budget_usd: Number(budget), budget_period: "monthly" as const } : {}),
    };
    const created = await submit(api.POST("/admin/masters", { body }), setProblem);
    if (created) props.onCreated(created);
  };
  return (
    <form class="card form" onSubmit={save} aria-label="New master">
      <h2>New master</h2>
      <Input name="name" label="Name" problem={problem} value={name} onValue={setName} />
      <Input name="group" label="Route group" problem={problem} value={group} onValue={setGroup} />
      <Input name="max_keys" label="Most keys (0: no limit)" problem={problem} type="number" value={maxKeys} onValue={setMaxKeys} />
      <Input name="max_quota_tokens" label="Token quota cap per key" problem={problem} type="number" value={quota} onValue={setQuota} />
      <Input name="max_budget_usd" label="Monthly budget cap per key (USD)" problem={problem} type="number" step="any" value={budget} onValue={setBudget} />
      <ProblemBanner problem={problem} named={["name", "group", "max_keys", "max_quota_tokens", "max_budget_usd"]} />
      <div class="actions">
        <button type="submit">Create master</button>
        <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function Limits(props: { m: Master }) {
  const l = props.m.limits;
  const n = (v: number) => (v ? String(v) : "no limit");
  return (
    <dl class="facts" data-testid="limits">
      <dt>Keys</dt>
      <dd>{n(l.max_keys)}</dd>
      <dt>Default RPM / TPM</dt>
      <dd>{n(l.default_rpm)} / {n(l.default_tpm)}</dd>
      <dt>Token quota cap</dt>
      <dd>{l.max_quota_tokens ?? "no cap"}</dd>
      <dt>Budget cap</dt>
      <dd>{l.max_budget_usd === null ? "no cap" : `${usd(l.max_budget_usd)} ${l.budget_period}`}</dd>
      <dt>Allowed models</dt>
      <dd>{l.allowed_models.length ? l.allowed_models.join(", ") : "all"}</dd>
    </dl>
  );
}

export function MastersPage() {
  const writable = canWrite(session()?.principal, "masters");
  const pager = usePager();
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const { data, problem: loadProblem, reload } = useLoad(() => api.GET("/admin/masters", { params: { query: pager.cursor ? { cursor: pager.cursor } : {} } }), [pager.cursor]);
  const chosen = data?.items.find((m) => m.id === selected);
  const rotate = async (m: Master) => {
    const r = await submit(api.POST("/admin/masters/{id}/rotate", { params: { path: { id: m.id } } }), setProblem);
    if (r) {
      setSecret(r.token);
      reload();
    }
  };
  const suspend = async (m: Master) => {
    if (await submit(api.PATCH("/admin/masters/{id}", { params: { path: { id: m.id } }, body: { status: m.status === "active" ? "suspended" : "active" } }), setProblem)) reload();
  };
  return (
    <Page title="Masters & keys" actions={writable && <button type="button" onClick={() => { setSecret(null); setCreating(true); }}>New master</button>}>
      {secret && <SecretOnce label="master token" token={secret} onDone={() => setSecret(null)} />}
      {creating && (
        <MasterForm
          onCreated={(m) => {
            setCreating(false);
            setSecret(m.token);
            setSelected(m.master.id);
            reload();
          }}
          onCancel={() => setCreating(false)}
        />
      )}
      <ProblemBanner problem={loadProblem ?? problem} />
      <table data-testid="masters">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Group</th>
            <th scope="col">Token prefix</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((m) => (
            <tr data-name={m.name} class={m.id === selected ? "selected" : undefined}>
              <td>{m.name}</td>
              <td>{m.group}</td>
              <td><code>{m.token_prefix}</code></td>
              <td><Status value={m.status} /></td>
              <td class="row-actions">
                <button type="button" class="secondary small" onClick={() => setSelected(m.id)}>Keys</button>
                {writable && (
                  <>
                    <button type="button" class="secondary small" onClick={() => rotate(m)}>Rotate token</button>
                    <button type="button" class="secondary small" onClick={() => suspend(m)}>{m.status === "active" ? "Suspend" : "Resume"}</button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pager={pager} next={data?.next_cursor} />
      {chosen && (
        <div class="card wide" data-testid="master-detail">
          <h2>{chosen.name}: limits</h2>
          <Limits m={chosen} />
          <KeysPanel key={chosen.id} masterId={chosen.id} title={`Keys of ${chosen.name}`} />
        </div>
      )}
    </Page>
  );
}
