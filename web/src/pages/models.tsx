// The public model catalogue: list, create, disable.
import { useState } from "preact/hooks";

import { api, canWrite, session, type Problem, type Schemas } from "../api";
import { submit, useLoad } from "../load";
import { Field, Input, Page, Pager, ProblemBanner, Status, usePager } from "../ui";

type Model = Schemas["Model"];
const kinds: Schemas["ModelKind"][] = ["chat", "embedding", "rerank", "other"];

function ModelForm(props: { onDone: () => void }) {
  const [namespace, setNamespace] = useState("default");
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Schemas["ModelKind"]>("chat");
  const [inPrice, setInPrice] = useState("0");
  const [outPrice, setOutPrice] = useState("0");
  const [problem, setProblem] = useState<Problem | null>(null);
  const save = async (ev: Event) => {
    ev.preventDefault();
    const body = { namespace, name, kind, input_price_per_mtok: Number(inPrice), output_price_per_mtok: Number(outPrice) };
    if (await submit(api.POST("/models", { body }), setProblem)) props.onDone();
  };
  return (
    <form class="card form" onSubmit={save} aria-label="New model">
      <h2>New model</h2>
      <Input name="namespace" label="Namespace" problem={problem} value={namespace} onValue={setNamespace} />
      <Input name="name" label="Name" problem={problem} value={name} onValue={setName} />
      <Field name="kind" label="Kind" problem={problem}>
        <select id="f-kind" value={kind} onChange={(x) => setKind(x.currentTarget.value as Schemas["ModelKind"])}>
          {kinds.map((k) => <option value={k}>{k}</option>)}
        </select>
      </Field>
      <Input name="input_price_per_mtok" label="Input USD / M tokens" problem={problem} type="number" step="any" value={inPrice} onValue={setInPrice} />
      <Input name="output_price_per_mtok" label="Output USD / M tokens" problem={problem} type="number" step="any" value={outPrice} onValue={setOutPrice} />
      <ProblemBanner problem={problem} named={["namespace", "name", "kind", "input_price_per_mtok", "output_price_per_mtok"]} />
      <div class="actions">
        <button type="submit">Create model</button>
        <button type="button" class="secondary" onClick={props.onDone}>Cancel</button>
      </div>
    </form>
  );
}

export function ModelsPage() {
  const writable = canWrite(session()?.principal, "models");
  const pager = usePager();
  const [adding, setAdding] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const { data, problem: loadProblem, reload } = useLoad(() => api.GET("/models", { params: { query: pager.cursor ? { cursor: pager.cursor } : {} } }), [pager.cursor]);
  const toggle = async (m: Model) => {
    if (await submit(api.PATCH("/models/{id}", { params: { path: { id: m.id } }, body: { status: m.status === "active" ? "disabled" : "active" } }), setProblem)) reload();
  };
  return (
    <Page title="Models" actions={writable && <button type="button" onClick={() => setAdding(true)}>New model</button>}>
      {adding && <ModelForm onDone={() => { setAdding(false); reload(); }} />}
      <ProblemBanner problem={loadProblem ?? problem} />
      <table data-testid="models">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Kind</th>
            <th scope="col">Input $/M</th>
            <th scope="col">Output $/M</th>
            <th scope="col">Status</th>
            {writable && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((m) => (
            <tr data-name={m.key}>
              <td>{m.key}</td>
              <td>{m.kind}</td>
              <td>{m.input_price_per_mtok}</td>
              <td>{m.output_price_per_mtok}</td>
              <td><Status value={m.status} /></td>
              {writable && (
                <td>
                  <button type="button" class="secondary small" onClick={() => toggle(m)}>{m.status === "active" ? "Disable" : "Enable"}</button>
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
