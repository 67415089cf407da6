// useLoad runs a typed API call and keeps its data, its problem and a reload.
import { useCallback, useEffect, useState } from "preact/hooks";

import { asProblem, type Problem } from "./api";

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export function useLoad<T>(call: () => Promise<Result<T>>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    call().then(
      (res) => {
        if (!live) return;
        if (res.data !== undefined) {
          setData(res.data);
          setProblem(null);
        } else setProblem(asProblem(res.error, res.response.status));
      },
      (err: unknown) => live && setProblem({ type: "about:blank", title: "Network error", status: 0, detail: String(err) }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, problem, reload };
}

// submit runs a typed mutation: the data on success, else the problem is set.
export async function submit<T>(call: Promise<Result<T>>, setProblem: (p: Problem | null) => void): Promise<T | undefined> {
  setProblem(null);
  const res = await call;
  if (res.response.ok) return res.data ?? ({} as T);
  setProblem(asProblem(res.error, res.response.status));
  return undefined;
}
