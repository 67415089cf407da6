// Small building blocks shared by the pages: problem+json display next to
// the field it names, copy-once secrets, usage bars and cursor paging.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

import type { Problem } from "./api";

// fieldMatches says whether a problem's field error belongs to the form
// field name ("candidates/0/weight" and "candidates[0].weight" belong to
// "candidates").
function fieldMatches(errField: string, name: string): boolean {
  const f = errField.replace(/^(body|query|path)[./]/, "").replace(/^\//, "");
  return f === name || f.startsWith(name + ".") || f.startsWith(name + "/") || f.startsWith(name + "[");
}

export function fieldErrors(p: Problem | null, name: string): string[] {
  return (p?.errors ?? []).filter((e) => fieldMatches(e.field, name)).map((e) => e.message);
}

// Field is a labelled control with the problem's messages for it.
export function Field(props: { name: string; label: string; problem: Problem | null; hint?: string; children: ComponentChildren }) {
  const errs = fieldErrors(props.problem, props.name);
  return (
    <div class={errs.length ? "field invalid" : "field"} data-field={props.name}>
      <label for={`f-${props.name}`}>{props.label}</label>
      {props.children}
      {props.hint && <small class="hint">{props.hint}</small>}
      {errs.map((m) => (
        <p class="field-error" id={`e-${props.name}`} role="alert">
          {m}
        </p>
      ))}
    </div>
  );
}

// ProblemBanner shows the problem's title and detail, and the field errors
// that no field of the form names (named: the fields the form shows).
export function ProblemBanner(props: { problem: Problem | null; named?: string[] }) {
  const p = props.problem;
  if (!p) return null;
  const named = props.named ?? [];
  const rest = (p.errors ?? []).filter((e) => !named.some((n) => fieldMatches(e.field, n)));
  return (
    <div class="problem" role="alert">
      <strong>{p.title}</strong>
      {p.detail && <span> — {p.detail}</span>}
      {rest.length > 0 && (
        <ul>
          {rest.map((e) => (
            <li>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {p.request_id && <small class="request-id">request id {p.request_id}</small>}
    </div>
  );
}

// SecretOnce shows a token that the server returns only once.
export function SecretOnce(props: { label: string; token: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.token);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section class="secret" aria-label={props.label}>
      <p class="warning">
        <strong>Copy this {props.label} now.</strong> It is shown only once: ezapi keeps only its hash.
      </p>
      <code class="token" data-testid="secret-token">
        {props.token}
      </code>
      <div class="actions">
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="secondary" onClick={props.onDone}>
          I have saved it
        </button>
      </div>
    </section>
  );
}

// UsageBar is used against a limit; no limit shows the figure alone.
export function UsageBar(props: { label: string; used: number; limit: number | null | undefined; format?: (n: number) => string }) {
  const f = props.format ?? ((n: number) => n.toLocaleString("en"));
  if (!props.limit) {
    return (
      <span class="usage">
        {props.label}: {f(props.used)} <small>(no limit)</small>
      </span>
    );
  }
  return (
    <span class="usage">
      <label>
        {props.label}: {f(props.used)} / {f(props.limit)}
        <meter min={0} max={props.limit} low={props.limit * 0.7} high={props.limit * 0.9} optimum={0} value={Math.min(props.used, props.limit)} />
      </label>
    </span>
  );
}

// Pager moves through cursor pages: the stack holds the cursors of the
// pages before this one.
export function usePager() {
  const [stack, setStack] = useState<(string | undefined)[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  return {
    cursor,
    reset: () => {
      setStack([]);
      setCursor(undefined);
    },
    next: (c: string) => {
      setStack([...stack, cursor]);
      setCursor(c);
    },
    prev: stack.length > 0 ? () => {
      setCursor(stack[stack.length - 1]);
      setStack(stack.slice(0, -1));
    } : null,
  };
}

export function Pager(props: { pager: ReturnType<typeof usePager>; next: string | null | undefined; label?: string }) {
  const { pager, next } = props;
  return (
    <nav class="pager" aria-label={props.label ?? "Pagination"}>
      <button type="button" class="secondary" disabled={!pager.prev} onClick={() => pager.prev?.()}>
        Previous
      </button>
      <button type="button" class="secondary" disabled={!next} onClick={() => next && pager.next(next)}>
        Next
      </button>
    </nav>
  );
}

export function Status(props: { value: string }) {
  return <span class={`status status-${props.value}`}>{props.value}</span>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

export function usd(n: number): string {
  return "$" + n.toFixed(n >= 100 ? 0 : 4);
}

// list splits a comma- or newline-separated input.
export function list(s: string): string[] {
  return s.split(/[,\n]/).map((x) => x.trim()).filter((x) => x !== "");
}

export function Page(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        <div class="page-actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

// Input is a labelled text (or number, password) input inside a Field.
export function Input(props: {
  name: string;
  label: string;
  problem: Problem | null;
  value: string;
  onValue: (v: string) => void;
  hint?: string;
  type?: "text" | "number" | "password";
  step?: string;
  autocomplete?: string;
}) {
  return (
    <Field name={props.name} label={props.label} problem={props.problem} {...(props.hint !== undefined ? { hint: props.hint } : {})}>
      <input
        id={`f-${props.name}`}
        // Preact's types tie attributes to one input type; these three share them.
        type={(props.type ?? "text") as "text"}
        step={props.step}
        autocomplete={props.autocomplete}
        value={props.value}
        onInput={(x) => props.onValue(x.currentTarget.value)}
      />
    </Field>
  );
}
