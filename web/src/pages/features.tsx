// Feature flags mirrored to the balancers: list, set, remove.
import { useState } from "preact/hooks";

import { api, canWrite, session, type Problem } from "../api";
import { submit, useLoad } from "../load";
import { Field, Page, ProblemBanner } from "../ui";

export function FeaturesPage() {
  const writable = canWrite(session()?.principal, "features");
  const { data, problem: loadProblem, reload } = useLoad(() => api.GET("/admin/features"), []);
  const [flag, setFlag] = useState("");
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const put = async (body: Record<string, string | null>) => {
    if (await submit(api.PUT("/admin/features", { body }), setProblem)) {
      setFlag("");
      setValue("");
      reload();
    }
  };
  return (
    <Page title="Feature flags">
      <ProblemBanner problem={loadProblem} />
      <table data-testid="features">
        <thead>
          <tr>
            <th scope="col">Flag</th>
            <th scope="col">Value</th>
            {writable && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {Object.entries(data ?? {}).sort().map(([k, v]) => (
            <tr data-name={k}>
              <td><code>{k}</code></td>
              <td>{v}</td>
              {writable && (
                <td>
                  <button type="button" class="danger small" onClick={() => put({ [k]: null })}>Remove</button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {writable && (
        <form class="card form" aria-label="Set a flag" onSubmit={(ev) => { ev.preventDefault(); void put({ [flag]: value }); }}>
          <h2>Set a flag</h2>
          <Field name={flag || "flag"} label="Flag" problem={problem}>
            <input id={`f-${flag || "flag"}`} value={flag} onInput={(x) => setFlag(x.currentTarget.value)} />
          </Field>
          <label>
            Value <input value={value} onInput={(x) => setValue(x.currentTarget.value)} />
          </label>
          <ProblemBanner problem={problem} named={[flag]} />
          <div class="actions">
            <button type="submit">Save flag</button>
          </div>
        </form>
      )}
    </Page>
  );
}
