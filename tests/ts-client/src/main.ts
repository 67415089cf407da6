// A TypeScript client of ezapi whose every request and response is typed
// from openapi.yaml (openapi-typescript → src/schema.d.ts, openapi-fetch).
// It logs in, creates a provider, a model, a binding, a master and a key,
// ingests one log record as a balancer and finds it again in GET /logs.
// `tsc --noEmit` fails when a field it uses is renamed in the spec.
//
// Environment: EZAPI_BASE_URL, EZAPI_USERNAME, EZAPI_PASSWORD,
// EZAPI_BALANCER_TOKEN (a service token with the balancer role).
import createClient from "openapi-fetch";

import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

function fail(message: string): never {
  console.error(`ts-client: FAIL: ${message}`);
  process.exit(1);
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) fail(`environment variable ${name} is not set`);
  return value;
}

// The parts of an openapi-fetch result this program looks at.
interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

// expect returns the typed body of a response with the wanted status, or
// exits with the step, the status and the problem the server answered.
function expect<T>(step: string, res: Result<T>, ...want: number[]): T {
  const status = res.response.status;
  if (!want.includes(status) || res.data === undefined) {
    const detail = res.error !== undefined ? JSON.stringify(res.error) : "(no body)";
    fail(`${step}: HTTP ${status}, want ${want.join(" or ")}: ${detail}`);
  }
  console.log(`ts-client: ${step}: HTTP ${status}`);
  return res.data;
}

const baseUrl = env("EZAPI_BASE_URL").replace(/\/+$/, "");
const username = env("EZAPI_USERNAME");
const password = env("EZAPI_PASSWORD");
const balancerToken = env("EZAPI_BALANCER_TOKEN");

// A suffix so that reruns against the same server do not conflict.
const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;

async function main(): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl });

  const login: Schemas["AccessTokenResponse"] = expect(
    "POST /auth/login",
    await anonymous.POST("/auth/login", { body: { username, password } }),
    200,
  );
  const accessToken: string = login.access_token;
  if (login.token_type !== "Bearer") fail(`POST /auth/login: token_type ${login.token_type}, want Bearer`);

  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });

  const provider: Schemas["Provider"] = expect(
    "POST /providers",
    await api.POST("/providers", {
      body: { name: `ts-openai-${suffix}`, type: "openai", api_key: "sk-ts-client-0123456789", models: ["gpt-4o"] },
    }),
    201,
  );
  const providerId: number = provider.id;

  const model: Schemas["Model"] = expect(
    "POST /models",
    await api.POST("/models", {
      body: { name: `ts-gpt-4o-${suffix}`, kind: "chat", input_price_per_mtok: 2.5, output_price_per_mtok: 10 },
    }),
    201,
  );
  const modelKey: string = model.key;

  const binding: Schemas["Binding"] = expect(
    "POST /bindings",
    await api.POST("/bindings", {
      body: {
        namespace: model.namespace,
        public_model: model.name,
        candidates: [{ selector_type: "exact", selector_value: "gpt-4o" }],
      },
    }),
    201,
  );
  if (binding.key !== modelKey) fail(`POST /bindings: key ${binding.key}, want ${modelKey}`);
  const candidate: Schemas["BindingCandidate"] | undefined = binding.candidates[0];
  if (candidate === undefined || candidate.status !== "ok" || candidate.upstreams[String(providerId)] !== "gpt-4o") {
    fail(`POST /bindings: candidate does not resolve to provider ${providerId}: ${JSON.stringify(binding.candidates)}`);
  }

  const master: Schemas["MasterCreated"] = expect(
    "POST /admin/masters",
    await api.POST("/admin/masters", { body: { name: `ts-tenant-${suffix}`, max_keys: 10 } }),
    201,
  );
  if (!master.token.startsWith("mk-")) fail(`POST /admin/masters: token does not start with mk-`);
  const masterId: number = master.master.id;

  const key: Schemas["KeyCreated"] = expect(
    "POST /admin/masters/{id}/keys",
    await api.POST("/admin/masters/{id}/keys", {
      params: { path: { id: masterId } },
      body: { name: "ts-app", allowed_models: [modelKey], rpm_limit: 60 },
    }),
    201,
  );
  if (!key.token.startsWith("sk-")) fail(`POST /admin/masters/{id}/keys: token does not start with sk-`);
  if (key.key.master_id !== masterId) fail(`POST /admin/masters/{id}/keys: master_id ${key.key.master_id}, want ${masterId}`);
  const keyId: number = key.key.id;

  // The balancer reports one request made with the new key.
  const balancer = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${balancerToken}` } });
  const requestId = `ts-client-${suffix}`;
  const createdAt = new Date();
  const record: Schemas["LogRecord"] = {
    request_id: requestId,
    created_at: createdAt.toISOString(),
    key_id: keyId,
    master_id: masterId,
    namespace: model.namespace,
    model: model.name,
    provider_id: providerId,
    upstream_model: "gpt-4o",
    status_code: 200,
    latency_ms: 812,
    ttft_ms: 240,
    prompt_tokens: 1200,
    completion_tokens: 350,
    cached_tokens: 0,
    stream: true,
    client_ip: "203.0.113.9",
    balancer_id: "ts-client",
  };
  const batch: Schemas["LogBatch"] = [record];
  const ingest: Schemas["LogIngestResult"] = expect(
    "POST /logs",
    await balancer.POST("/logs", { body: batch }),
    200,
    202,
  );
  if (ingest.accepted !== 1 || ingest.rejected.length !== 0) {
    fail(`POST /logs: accepted ${ingest.accepted}, rejected ${JSON.stringify(ingest.rejected)}; want 1 accepted`);
  }

  // With log.ack = queued the record is stored shortly after the answer.
  const from = new Date(createdAt.getTime() - 5 * 60_000).toISOString();
  const to = new Date(createdAt.getTime() + 5 * 60_000).toISOString();
  // Annotated so that a renamed query parameter fails the type check.
  const query: paths["/logs"]["get"]["parameters"]["query"] = { from, to, request_id: requestId, limit: 10 };
  let found: Schemas["LogRecordView"] | undefined;
  for (let attempt = 0; attempt < 50 && found === undefined; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const logs: Schemas["LogList"] = expect(
      attempt === 0 ? "GET /logs" : `GET /logs (attempt ${attempt + 1})`,
      await api.GET("/logs", { params: { query } }),
      200,
    );
    found = logs.items.find((item) => item.request_id === requestId);
  }
  if (found === undefined) fail(`GET /logs: record ${requestId} is not listed`);
  if (found.key_id !== keyId || found.master_id !== masterId || found.provider_id !== providerId) {
    fail(`GET /logs: record ${requestId} has key ${found.key_id}, master ${found.master_id}, provider ${found.provider_id}; want ${keyId}, ${masterId}, ${providerId}`);
  }
  if (found.prompt_tokens !== 1200 || found.completion_tokens !== 350 || found.model !== model.name) {
    fail(`GET /logs: record ${requestId} reads back as ${JSON.stringify(found)}`);
  }

  console.log(
    `ts-client: OK: provider ${providerId}, model ${modelKey}, binding ${binding.id}, master ${masterId}, ` +
      `key ${keyId} (${key.key.prefix}), log ${found.id} (${requestId}) listed`,
  );
}

main().catch((err: unknown) => {
  // fetch hides why it failed (refused, reset, DNS) in cause.
  const cause = err instanceof Error && err.cause !== undefined ? ` (cause: ${String(err.cause)})` : "";
  fail(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}${cause}`);
});
