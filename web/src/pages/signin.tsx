// Sign-in: an operator with username and password (POST /auth/login → JWT),
// or a tenant with its master token (checked with GET /auth/me).
import { useState } from "preact/hooks";

import { api, asProblem, setSession, type Problem } from "../api";
import { Field, ProblemBanner } from "../ui";

export function SignIn(props: { reason: string }) {
  const [mode, setMode] = useState<"operator" | "tenant">("operator");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      if (mode === "operator") {
        const res = await api.POST("/auth/login", { body: { username, password } });
        if (!res.data) return setProblem(asProblem(res.error, res.response.status));
        const me = await api.GET("/auth/me", { headers: { Authorization: `Bearer ${res.data.access_token}` } });
        if (!me.data) return setProblem(asProblem(me.error, me.response.status));
        setSession({ token: res.data.access_token, expiresAt: res.data.expires_at, principal: me.data });
      } else {
        const me = await api.GET("/auth/me", { headers: { Authorization: `Bearer ${token.trim()}` } });
        if (!me.data) return setProblem(asProblem(me.error, me.response.status));
        if (me.data.kind !== "master") {
          return setProblem({ type: "about:blank", title: "Not a master token", status: 400, errors: [{ field: "token", message: "Operators sign in with their username and password." }] });
        }
        setSession({ token: token.trim(), expiresAt: null, principal: me.data });
      }
      location.hash = "#/overview";
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>ezapi console</h1>
      {props.reason && (
        <p class="notice" role="status" data-testid="signin-reason">
          {props.reason}
        </p>
      )}
      <div class="tabs" role="group" aria-label="Sign in as">
        <button type="button" aria-pressed={mode === "operator"} onClick={() => setMode("operator")}>
          Operator
        </button>
        <button type="button" aria-pressed={mode === "tenant"} onClick={() => setMode("tenant")}>
          Tenant (master token)
        </button>
      </div>
      <form onSubmit={submit} aria-label="Sign in">
        {mode === "operator" ? (
          <>
            <Field name="username" label="Username" problem={problem}>
              <input id="f-username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
            </Field>
            <Field name="password" label="Password" problem={problem}>
              <input id="f-password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            </Field>
          </>
        ) : (
          <Field name="token" label="Master token (mk-…)" problem={problem}>
            <input id="f-token" name="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          </Field>
        )}
        <ProblemBanner problem={problem} named={["username", "password", "token"]} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
