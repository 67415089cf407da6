// Bindings: public model → candidates (route group + selector). The server
// computes each candidate's resolution when read; config_error and
// no_provider are highlighted.
import { useState } from "preact/hooks";

import { api, canWrite, session, type Problem, type Schemas } from "../api";
import { submit, useLoad } from "../load";
import { Input, Page, Pager, ProblemBanner, Status, fieldErrors, usePager } from "../ui";

type Binding = Schemas["Binding"];
type Candidate = Schemas["BindingCandidateInput"];
const selectors: Schemas["SelectorType"][] = ["exact", "regex", "normalize_exact"];

function CandidateEditor(props: { value: Candidate[]; onChange: (c: Candidate[]) => void; problem: Problem | null }) {
  const set = (i: number, patch: Partial<Candidate>) => props.onChange(props.value.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  return (
    <fieldset class="candidates">
      <legend>Candidates</legend>
      {props.value.map((c, i) => {
        const errs = fieldErrors(props.problem, `candidates/${i}`).concat(fieldErrors(props.problem, `candidates[${i}]`), fieldErrors(props.problem, `candidates.${i}`));
        return (
          <div class="candidate" data-index={i}>
            <label>
              Route group <input aria-label={`Candidate ${i + 1} route group`} value={c.route_group ?? ""} onInput={(x) => set(i, { route_group: x.currentTarget.value })} />
            </label>
            <label>
              Selector{" "}
              <select aria-label={`Candidate ${i + 1} selector type`} value={c.selector_type} onChange={(x) => set(i, { selector_type: x.currentTarget.value as Schemas["SelectorType"] })}>
                {selectors.map((s) => <option value={s}>{s}</option>)}
              </select>
            </label>
            <label>
              Upstream model <input aria-label={`Candidate ${i + 1} upstream model`} value={c.selector_value} placeholder="(the public model)" onInput={(x) => set(i, { selector_value: x.currentTarget.value })} />
            </label>
            <label>
              Weight <input aria-label={`Candidate ${i + 1} weight`} type="number" value={c.weight ?? 1} onInput={(x) => set(i, { weight: Number(x.currentTarget.value) })} />
            </label>
            <button type="button" class="secondary small" disabled={props.value.length === 1} onClick={() => props.onChange(props.value.filter((_, j) => j !== i))}>
              Remove
            </button>
            {errs.map((m) => <p class="field-error" role="alert">{m}</p>)}
          </div>
        );
      })}
      <button type="button" class="secondary small" onClick={() => props.onChange([...props.value, { route_group: "default", selector_type: "exact", selector_value: "", weight: 1 }])}>
        Add candidate
      </button>
    </fieldset>
  );
}

function BindingForm(props: { editing: Binding | null; onDone: () => void }) {
  const e = props.editing;
  const [namespace, setNamespace] = useState(e?.namespace ?? "default");
  const [publicModel, setPublicModel] = useState(e?.public_model ?? "");
  const [candidates, setCandidates] = useState<Candidate[]>(
    e?.candidates.map((c) => ({ route_group: c.route_group, selector_type: c.selector_type, selector_value: c.selector_value, weight: c.weight })) ?? [{ route_group: "default", selector_type: "exact", selector_value: "", weight: 1 }],
  );
  const [problem, setProblem] = useState<Problem | null>(null);
  const save = async (ev: Event) => {
    ev.preventDefault();
    const done = e
      ? await submit(api.PATCH("/bindings/{id}", { params: { path: { id: e.id } }, body: { candidates } }), setProblem)
      : await submit(api.POST("/bindings", { body: { namespace, public_model: publicModel, candidates } }), setProblem);
    if (done) props.onDone();
  };
  return (
    <form class="card form" onSubmit={save} aria-label={e ? `Edit binding ${e.key}` : "New binding"}>
      <h2>{e ? `Edit ${e.key}` : "New binding"}</h2>
      {!e && (
        <>
          <Input name="namespace" label="Namespace" problem={problem} value={namespace} onValue={setNamespace} />
          <Input name="public_model" label="Public model" problem={problem} value={publicModel} onValue={setPublicModel} />
        </>
      )}
      <CandidateEditor value={candidates} onChange={setCandidates} problem={problem} />
      <ProblemBanner problem={problem} named={["namespace", "public_model", "candidates"]} />
      <div class="actions">
        <button type="submit">{e ? "Save" : "Create binding"}</button>
        <button type="button" class="secondary" onClick={props.onDone}>Cancel</button>
      </div>
    </form>
  );
}

function Resolution(props: { c: Schemas["BindingCandidate"] }) {
  const c = props.c;
  if (c.status === "ok") {
    const ups = Object.entries(c.upstreams).map(([id, m]) => `provider ${id} → ${m}`);
    return <span class="ok" data-resolution="ok">{ups.join("; ")}</span>;
  }
  return (
    <span class="bad" data-resolution={c.error ?? "error"}>
      <strong>{c.error}</strong> {c.detail}
    </span>
  );
}

export function BindingsPage() {
  const writable = canWrite(session()?.principal, "bindings");
  const pager = usePager();
  const [editing, setEditing] = useState<Binding | "new" | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const { data, problem: loadProblem, reload } = useLoad(() => api.GET("/bindings", { params: { query: pager.cursor ? { cursor: pager.cursor } : {} } }), [pager.cursor]);
  const toggle = async (b: Binding) => {
    if (await submit(api.PATCH("/bindings/{id}", { params: { path: { id: b.id } }, body: { status: b.status === "active" ? "disabled" : "active" } }), setProblem)) reload();
  };
  return (
    <Page title="Bindings" actions={writable && <button type="button" onClick={() => setEditing("new")}>New binding</button>}>
      {editing && <BindingForm key={editing === "new" ? "new" : editing.id} editing={editing === "new" ? null : editing} onDone={() => { setEditing(null); reload(); }} />}
      <ProblemBanner problem={loadProblem ?? problem} />
      <table data-testid="bindings">
        <thead>
          <tr>
            <th scope="col">Public model</th>
            <th scope="col">Status</th>
            <th scope="col">Candidates and their resolution</th>
            {writable && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((b) => (
            <tr data-name={b.key}>
              <td>{b.key}</td>
              <td><Status value={b.status} /></td>
              <td>
                <ul class="plain">
                  {b.candidates.map((c) => (
                    <li>
                      <code>{c.route_group}</code> {c.selector_type} <code>{c.selector_value || b.public_model}</code> ×{c.weight}: <Resolution c={c} />
                    </li>
                  ))}
                </ul>
              </td>
              {writable && (
                <td class="row-actions">
                  <button type="button" class="secondary small" onClick={() => setEditing(b)}>Edit</button>
                  <button type="button" class="secondary small" onClick={() => toggle(b)}>{b.status === "active" ? "Disable" : "Enable"}</button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pager={pager} next={data?.next_cursor} />
    </Page>
  );
}
