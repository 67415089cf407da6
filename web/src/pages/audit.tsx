// The audit log of every mutation (admin only), newest first.
import { useState } from "preact/hooks";

import { api } from "../api";
import { useLoad } from "../load";
import { Page, Pager, ProblemBanner, usePager, when } from "../ui";

export function AuditPage() {
  const [resource, setResource] = useState("");
  const [applied, setApplied] = useState("");
  const pager = usePager();
  const { data, problem } = useLoad(
    () => api.GET("/admin/audit", { params: { query: { limit: 50, ...(applied ? { resource_type: applied } : {}), ...(pager.cursor ? { cursor: pager.cursor } : {}) } } }),
    [applied, pager.cursor],
  );
  return (
    <Page title="Audit log">
      <form class="filters" aria-label="Audit filters" onSubmit={(ev) => { ev.preventDefault(); pager.reset(); setApplied(resource); }}>
        <label>
          Resource type <input value={resource} onInput={(x) => setResource(x.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ProblemBanner problem={problem} />
      <table data-testid="audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Resource</th>
            <th scope="col">Changes</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((a) => (
            <tr data-action={a.action}>
              <td>{when(a.at)}</td>
              <td>{a.actor.type} {a.actor.id}</td>
              <td>{a.action}</td>
              <td>{a.resource_type} {a.resource_id}</td>
              <td><code class="changes">{a.changes ? JSON.stringify(a.changes) : ""}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pager={pager} next={data?.next_cursor} />
    </Page>
  );
}
