// The ezapi console: sign-in, then one page per area of the API, routed by
// the URL hash (#/providers) so that /ui/ is the only document.
import "uplot/dist/uPlot.min.css";
import "./style.css";

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import { api, canRead, isTenant, lastReason, onSession, session, setSession, type Session } from "./api";
import { AuditPage } from "./pages/audit";
import { BindingsPage } from "./pages/bindings";
import { FeaturesPage } from "./pages/features";
import { KeysPage } from "./pages/keys";
import { LogsPage } from "./pages/logs";
import { MastersPage } from "./pages/masters";
import { ModelsPage } from "./pages/models";
import { OverviewPage } from "./pages/overview";
import { ProvidersPage } from "./pages/providers";
import { SignIn } from "./pages/signin";

interface Route {
  path: string;
  label: string;
  show: (s: Session) => boolean;
  page: () => preact.JSX.Element;
}

const routes: Route[] = [
  { path: "overview", label: "Overview", show: () => true, page: () => <OverviewPage /> },
  { path: "providers", label: "Providers", show: (s) => canRead(s.principal, "providers"), page: () => <ProvidersPage /> },
  { path: "models", label: "Models", show: (s) => canRead(s.principal, "models"), page: () => <ModelsPage /> },
  { path: "bindings", label: "Bindings", show: (s) => canRead(s.principal, "bindings"), page: () => <BindingsPage /> },
  { path: "masters", label: "Masters & keys", show: (s) => canRead(s.principal, "masters"), page: () => <MastersPage /> },
  { path: "keys", label: "My keys", show: (s) => isTenant(s.principal), page: () => <KeysPage /> },
  { path: "features", label: "Feature flags", show: (s) => canRead(s.principal, "features"), page: () => <FeaturesPage /> },
  { path: "logs", label: "Logs", show: (s) => canRead(s.principal, "logs"), page: () => <LogsPage /> },
  { path: "audit", label: "Audit log", show: (s) => canRead(s.principal, "audit"), page: () => <AuditPage /> },
];

function currentPath(): string {
  return location.hash.replace(/^#\/?/, "").split("?")[0] || "overview";
}

function App() {
  const [s, setS] = useState<Session | null>(session());
  const [reason, setReason] = useState(lastReason());
  const [path, setPath] = useState(currentPath());

  useEffect(() => onSession((next, why) => {
    setS(next);
    setReason(why);
  }), []);
  useEffect(() => {
    const h = () => setPath(currentPath());
    addEventListener("hashchange", h);
    return () => removeEventListener("hashchange", h);
  }, []);
  // An operator JWT ends at its expires_at even when no call is made.
  useEffect(() => {
    if (!s?.expiresAt) return undefined;
    const ms = Date.parse(s.expiresAt) - Date.now();
    const t = setTimeout(() => setSession(null, "Your session has expired. Sign in again."), Math.max(ms, 0));
    return () => clearTimeout(t);
  }, [s]);

  if (!s) return <SignIn reason={reason} />;
  const visible = routes.filter((r) => r.show(s));
  const route = visible.find((r) => r.path === path) ?? visible[0];
  const signOut = () => setSession(null, "You signed out.");
  const p = s.principal;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">ezapi console</span>
        <span class="who" data-testid="who">
          {p.name} · {p.kind === "master" ? "tenant" : p.role}
        </span>
        <button type="button" class="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <div class="body">
        <nav class="side" aria-label="Pages">
          <ul>
            {visible.map((r) => (
              <li>
                <a href={`#/${r.path}`} aria-current={r === route ? "page" : undefined}>
                  {r.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" key={route?.path}>
          {route?.page()}
        </main>
      </div>
    </div>
  );
}

// A session kept in sessionStorage is checked once at start: the token may
// have been revoked since.
async function start(): Promise<void> {
  if (session()) {
    const me = await api.GET("/auth/me");
    const s = session();
    if (me.data && s) setSession({ ...s, principal: me.data });
  }
  const root = document.getElementById("app");
  if (root) render(<App />, root);
}

void start();
