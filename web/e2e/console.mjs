// End-to-end test of the console in Debian's Chromium, driven by
// playwright-core; run by tests/console/console_test.go, which starts the
// server and answers the checks only Go can make (Redis, log ingestion) on
// EZ_HARNESS. Every wait is bounded; the first failure exits 1.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

function env(name) {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
}

const base = env("EZ_BASE_URL");
const harness = env("EZ_HARNESS");
const artifacts = env("EZ_ARTIFACTS");
const admin = { user: env("EZ_ADMIN_USER"), pass: env("EZ_ADMIN_PASS") };
const viewer = { user: env("EZ_VIEWER_USER"), pass: env("EZ_VIEWER_PASS") };
const otherTenantKey = env("EZ_OTHER_KEY_NAME");
// The other tenant has 3 requests of this model before the run starts.
const otherModel = env("EZ_OTHER_MODEL");
mkdirSync(artifacts, { recursive: true });

let page;
const problems = [];
const cspViolations = [];
const pageErrors = [];
const axeReport = [];
const axeMinor = [];
const screenshots = [];

function fail(msg) {
  console.error(`console-e2e: FAIL: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

function step(msg) {
  console.log(`console-e2e: ${msg}`);
}

// Hard cap for the whole run, whatever hangs.
const cap = setTimeout(() => {
  console.error("console-e2e: FAIL: the run took longer than 240 s");
  process.exit(1);
}, 240_000);

async function call(path, body) {
  const res = await fetch(harness + path, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) fail(`harness ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

async function shot(name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(name);
}

// axe checks the page; serious and critical violations fail the run.
async function axe(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  axeReport.push({ page: name, violations: result.length, serious: bad.length });
  for (const v of result) if (!bad.includes(v)) axeMinor.push(`${v.id} (${v.impact}): ${v.nodes.join(", ")}`);
  if (bad.length) fail(`axe on ${name}: ${JSON.stringify(bad, null, 1)}`);
}

async function visit(path, title) {
  await page.goto(`${base}/ui/#/${path}`);
  await page.getByRole("heading", { level: 1, name: title }).waitFor();
}

async function signIn(who) {
  await page.goto(`${base}/ui/`);
  await page.getByLabel("Username").fill(who.user);
  await page.getByLabel("Password").fill(who.pass);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

async function signOut() {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByTestId("signin-reason").waitFor();
}

function row(testid, name) {
  return page.getByTestId(testid).locator(`tr[data-name="${name}"]`);
}

// The buttons that change something; a viewer must see none of them.
const writeButtons = /^(New |Edit$|Disable$|Enable$|Rotate|Revoke$|Remove$|Save|Suspend$|Resume$|Create |Resync)/;

async function writeControls() {
  const names = await page.locator("main button").allInnerTexts();
  return names.map((n) => n.trim()).filter((n) => writeButtons.test(n));
}

async function main() {
  const browser = await chromium.launch({
    executablePath: env("EZ_CHROMIUM"),
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60_000,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    // CSP violations are reported to the page; init scripts run outside its CSP.
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.setDefaultNavigationTimeout(20_000);
    page.on("console", (m) => {
      if (m.type() === "error" && /Content[- ]Security[- ]Policy|CSP violation/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("dialog", (d) => void d.accept());

    // 1. Headers of /ui/ and the sign-in page.
    const res = await page.goto(`${base}/ui/`);
    const h = res.headers();
    check(h["content-security-policy"]?.includes("script-src 'self'") && !h["content-security-policy"].includes("unsafe-inline"), `CSP of /ui/: ${h["content-security-policy"]}`);
    check(h["x-frame-options"] === "DENY", `X-Frame-Options of /ui/: ${h["x-frame-options"]}`);
    await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
    await shot("signin");
    await axe("signin");
    step("headers and sign-in page");

    // 2. A wrong password: the problem is shown, nothing else happens.
    await page.getByLabel("Username").fill(admin.user);
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.locator(".problem").waitFor();
    await signIn(admin);
    const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
    check(stored.local === 0 && stored.session === 1, `tokens belong in sessionStorage only: ${JSON.stringify(stored)}`);
    step("signed in as admin");

    // 3. Provider: a problem names the field; then create it.
    await visit("providers", "Providers");
    await page.getByRole("button", { name: "New provider" }).click();
    await page.getByRole("button", { name: "Create provider" }).click();
    await page.locator('.field[data-field="name"] .field-error').waitFor();
    problems.push(await page.locator('.field[data-field="name"] .field-error').first().innerText());
    await shot("providers-problem");
    await page.getByLabel("Name", { exact: true }).fill("ui-openai");
    await page.getByLabel("Upstream API key").fill("sk-upstream-secret-0123456789");
    await page.getByLabel("Upstream models (comma-separated)").fill("gpt-4o-2024-08-06, gpt-4o-mini");
    await page.getByRole("button", { name: "Create provider" }).click();
    await row("providers", "ui-openai").waitFor();
    const providerRow = await row("providers", "ui-openai").innerText();
    check(!providerRow.includes("sk-upstream-secret-0123456789"), "the upstream key is shown in the list");
    // Edit (the stored key is shown masked in the hint, never in a field), disable, enable.
    await row("providers", "ui-openai").getByRole("button", { name: "Edit" }).click();
    const editForm = page.getByRole("form", { name: "Edit provider ui-openai" });
    check((await editForm.getByLabel("Upstream API key").inputValue()) === "", "the edit form holds no upstream key");
    check(!(await editForm.innerText()).includes("sk-upstream-secret-0123456789"), "the edit form shows the upstream key");
    await editForm.getByLabel("Weight").fill("5");
    await editForm.getByRole("button", { name: "Save" }).click();
    await row("providers", "ui-openai").getByText("5 / 0").waitFor();
    await row("providers", "ui-openai").getByRole("button", { name: "Disable" }).click();
    await row("providers", "ui-openai").locator(".status-disabled").waitFor();
    await row("providers", "ui-openai").getByRole("button", { name: "Enable" }).click();
    await row("providers", "ui-openai").locator(".status-active").waitFor();
    await page.getByRole("searchbox").fill("zzz");
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="providers"] tbody tr').length === 0, null, { timeout: 10_000 });
    await page.getByRole("searchbox").fill("ui-");
    await row("providers", "ui-openai").waitFor();
    await shot("providers");
    await axe("providers");
    step("provider created, edited, disabled and enabled, found by search; its key is masked");

    // 4. Model.
    await visit("models", "Models");
    await page.getByRole("button", { name: "New model" }).click();
    await page.getByLabel("Name", { exact: true }).fill("ui-gpt-4o");
    await page.getByLabel("Input USD / M tokens").fill("2.5");
    await page.getByLabel("Output USD / M tokens").fill("10");
    await page.getByRole("button", { name: "Create model" }).click();
    await row("models", "default.ui-gpt-4o").waitFor();
    await shot("models");
    await axe("models");
    step("model created");

    // 5. Binding with a resolving candidate, then one that does not resolve.
    await visit("bindings", "Bindings");
    await page.getByRole("button", { name: "New binding" }).click();
    await page.getByLabel("Public model").fill("ui-gpt-4o");
    await page.getByLabel("Candidate 1 upstream model").fill("gpt-4o-2024-08-06");
    await page.getByRole("button", { name: "Add candidate" }).click();
    await page.getByLabel("Candidate 2 route group").fill("nowhere");
    await page.getByLabel("Candidate 2 upstream model").fill("gpt-4o-2024-08-06");
    // A regex hitting both of the provider's models is a configuration error.
    await page.getByRole("button", { name: "Add candidate" }).click();
    await page.getByLabel("Candidate 3 selector type").selectOption("regex");
    await page.getByLabel("Candidate 3 upstream model").fill("gpt-4o.*");
    await page.getByRole("button", { name: "Create binding" }).click();
    const binding = row("bindings", "default.ui-gpt-4o");
    await binding.waitFor();
    await binding.locator('[data-resolution="ok"]').waitFor();
    const resolved = await binding.locator('[data-resolution="ok"]').innerText();
    check(resolved.includes("gpt-4o-2024-08-06"), `resolution of candidate 1: ${resolved}`);
    const unresolved = (await binding.locator(".bad[data-resolution]").evaluateAll((els) => els.map((e) => e.getAttribute("data-resolution")))).join(", ");
    check(unresolved === "no_provider, config_error", `candidates 2 and 3 should be no_provider and config_error, got ${unresolved}`);
    await shot("bindings");
    await axe("bindings");
    step(`binding resolves (${resolved.trim()}); candidates 2 and 3: ${unresolved}`);

    // 6. Master: its token is shown once.
    await visit("masters", "Masters & keys");
    await page.getByRole("button", { name: "New master" }).click();
    await page.getByLabel("Name", { exact: true }).fill("ui-tenant");
    await page.getByLabel("Token quota cap per key").fill("100000");
    await page.getByRole("button", { name: "Create master" }).click();
    const masterToken = (await page.getByTestId("secret-token").innerText()).trim();
    check(masterToken.startsWith("mk-"), `master token: ${masterToken.slice(0, 3)}…`);
    await page.getByRole("button", { name: "I have saved it" }).click();
    await page.getByTestId("master-detail").waitFor();

    // 7. Key: shown once, copied, found in Redis under its sha256.
    await page.getByRole("button", { name: "New key" }).click();
    await page.getByLabel("Key name").fill("ui-key");
    await page.getByLabel("Token quota").fill("50000");
    await page.getByRole("button", { name: "Create key" }).click();
    const keyToken = (await page.getByTestId("secret-token").innerText()).trim();
    check(keyToken.startsWith("sk-"), "the key token is shown");
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    check(clip === keyToken, "the copy button copies the token");
    await shot("masters-key-created");
    await axe("masters");
    await call("/redis-key", { token: keyToken, present: true });
    await page.getByRole("button", { name: "I have saved it" }).click();
    check((await page.getByTestId("secret-token").count()) === 0, "the token is gone once acknowledged");
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Masters & keys" }).waitFor();
    check(!(await page.content()).includes(keyToken), "the token is shown again after a reload");
    step("master and key created; the key reached Redis under its sha256");

    // 8. Logs through the API; the overview draws them.
    const ingested = await call("/logs", { token: keyToken, model: "ui-gpt-4o", ok: 4, errors: 2 });
    await visit("overview", "Overview");
    let total = 0;
    for (let i = 0; i < 20 && total < 9; i++) {
      total = Number(await page.getByTestId("chart-requests").getAttribute("data-total"));
      if (total >= 9) break;
      await page.waitForTimeout(500);
      await page.getByRole("button", { name: "7d" }).click();
      await page.getByRole("button", { name: "24h" }).click();
    }
    check(total === 9, `the requests chart shows ${total} requests, want the 6 ingested + the other tenant's 3`);
    check((await page.getByTestId("chart-requests").locator("canvas").count()) === 1, "the requests chart has a canvas");
    await page.getByTestId("top-models").getByText("ui-gpt-4o").waitFor();
    await page.getByTestId("top-models").getByText(otherModel).waitFor();
    await page.getByTestId("in-sync").waitFor();
    await page.getByRole("button", { name: "Resync snapshot" }).click();
    await page.getByTestId("resynced").waitFor();
    check((await page.getByTestId("in-sync").innerText()).startsWith("match"), "the snapshot is in sync after a resync");
    await shot("overview");
    await axe("overview");
    step(`overview draws ${total} requests (ingested ${JSON.stringify(ingested)})`);

    // 9. Logs explorer with a filter.
    await visit("logs", "Logs");
    await page.getByTestId("logs").locator("tbody tr").first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="logs"] tbody tr').length === 9, null, { timeout: 10_000 });
    const all = await page.getByTestId("logs").locator("tbody tr").count();
    await page.getByLabel("Status").selectOption("5xx");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="logs"] tbody tr').length === 2, null, { timeout: 10_000 });
    await shot("logs");
    await axe("logs");
    step(`logs explorer: ${all} records, 2 with 5xx`);

    // 10. Rotate with grace, then revoke.
    await visit("masters", "Masters & keys");
    await row("masters", "ui-tenant").getByRole("button", { name: "Keys" }).click();
    await row("keys", "ui-key").getByRole("button", { name: "Rotate" }).click();
    await page.getByLabel("Old token keeps working for (seconds)").fill("120");
    await page.getByRole("form", { name: "Rotate key ui-key" }).getByRole("button", { name: "Rotate", exact: true }).click();
    const rotated = (await page.getByTestId("secret-token").innerText()).trim();
    check(rotated.startsWith("sk-") && rotated !== keyToken, "rotation shows a new token");
    await row("keys", "ui-key").getByText("old token until").waitFor();
    await call("/redis-key", { token: rotated, present: true });
    await call("/redis-key", { token: keyToken, present: true });
    await page.getByRole("button", { name: "I have saved it" }).click();
    await row("keys", "ui-key").getByRole("button", { name: "Revoke" }).click();
    await row("keys", "ui-key").locator(".status-revoked").waitFor();
    await shot("masters-key-revoked");
    step("key rotated with grace and revoked");

    // 11. Feature flags and the audit log.
    await visit("features", "Feature flags");
    await page.getByLabel("Flag", { exact: true }).fill("console_test_flag");
    await page.getByLabel("Value", { exact: true }).fill("on");
    await page.getByRole("button", { name: "Save flag" }).click();
    await row("features", "console_test_flag").waitFor();
    await shot("features");
    await axe("features");
    await visit("audit", "Audit log");
    await page.getByTestId("audit").locator("tbody tr").first().waitFor();
    await shot("audit");
    await axe("audit");
    step("feature flag set; audit log listed");

    await signOut();
    step("signed out");

    // 12. A viewer sees every page and no write control.
    await signIn(viewer);
    for (const [path, title] of [["overview", "Overview"], ["providers", "Providers"], ["models", "Models"], ["bindings", "Bindings"], ["masters", "Masters & keys"], ["features", "Feature flags"], ["logs", "Logs"]]) {
      await visit(path, title);
      await page.locator("main table, main .chart").first().waitFor();
      if (path === "masters") {
        await row("masters", "ui-tenant").getByRole("button", { name: "Keys" }).click();
        await row("keys", "ui-key").waitFor();
      }
      const w = await writeControls();
      check(w.length === 0, `the viewer sees write controls on ${path}: ${w.join(", ")}`);
      await axe(`viewer-${path}`);
    }
    check((await page.getByRole("link", { name: "Audit log" }).count()) === 0, "the viewer is offered the audit log");
    await visit("providers", "Providers");
    await shot("viewer-providers");
    await signOut();
    step("viewer: no write controls on any page");

    // 13. A tenant signs in with its master token and sees only its keys.
    await page.getByRole("button", { name: "Tenant (master token)" }).click();
    await page.getByLabel("Master token (mk-…)").fill(masterToken);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    const nav = await page.locator("nav.side a").allInnerTexts();
    check(!nav.includes("Providers") && !nav.includes("Masters & keys") && nav.includes("My keys"), `tenant navigation: ${nav.join(", ")}`);
    await page.getByTestId("top-models").getByText("ui-gpt-4o").waitFor();
    check((await page.getByTestId("top-models").getByText(otherModel).count()) === 0, "the tenant sees another tenant's model usage");
    const tenantTotal = Number(await page.getByTestId("chart-requests").getAttribute("data-total"));
    check(tenantTotal === 6, `the tenant's requests chart shows ${tenantTotal}, want its own 6`);
    await shot("tenant-overview");
    await axe("tenant-overview");
    await visit("keys", "My keys");
    await row("keys", "ui-key").waitFor();
    check((await row("keys", otherTenantKey).count()) === 0, "the tenant sees another tenant's key");
    await page.getByRole("button", { name: "New key" }).click();
    await page.getByLabel("Key name").fill("tenant-own-key");
    await page.getByRole("button", { name: "Create key" }).click();
    check((await page.getByTestId("secret-token").innerText()).trim().startsWith("sk-"), "the tenant's new key token is shown");
    await row("keys", "tenant-own-key").waitFor();
    await shot("tenant-keys");
    await axe("tenant-keys");
    await visit("logs", "Logs");
    await page.getByTestId("logs").locator("tbody tr").first().waitFor();
    const tenantLogs = await page.getByTestId("logs").locator("tbody").innerText();
    check(!tenantLogs.includes(otherModel), "the tenant sees another tenant's logs");
    check((await page.getByTestId("logs").locator("tbody tr").count()) === 6, "the tenant sees its own 6 log records");
    await shot("tenant-logs");
    step("tenant: its own keys, logs and usage only");

    // 14. A session whose credential stops working ends with a notice.
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem("ezapi.console.session") ?? "{}");
      s.token = "mk-revoked-or-expired";
      sessionStorage.setItem("ezapi.console.session", JSON.stringify(s));
    });
    await page.reload();
    await page.getByTestId("signin-reason").getByText("expired").waitFor();
    await shot("session-expired");
    step("session expiry: back at sign-in with a notice");

    check(cspViolations.length === 0, `CSP violations: ${cspViolations.join("; ")}`);
    check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join("; ")}`);
    console.log(`console-e2e: axe ${JSON.stringify(axeReport)}`);
    console.log(`console-e2e: axe moderate or minor: ${JSON.stringify([...new Set(axeMinor)])}`);
    console.log(`console-e2e: field problem shown: ${problems.join("; ")}`);
    console.log(`console-e2e: OK: ${screenshots.length} screenshots (${screenshots.join(", ")})`);
  } catch (err) {
    if (page) await page.screenshot({ path: join(artifacts, "failure.png"), fullPage: true }).catch(() => {});
    if (!process.exitCode) console.error(`console-e2e: FAIL: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
    clearTimeout(cap);
  }
}

await main();
