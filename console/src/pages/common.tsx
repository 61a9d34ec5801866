// Small pieces the screens share: a query hook with loading/error, and the error line.
import { useCallback, useEffect, useState, type DependencyList } from "react";
import { GraphQLRequestError } from "../api/client";
import { useI18n } from "../i18n";

export interface Loaded<T> {
  data: T | null;
  error: GraphQLRequestError | null;
  loading: boolean;
  reload: () => void;
}

export function useQuery<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<GraphQLRequestError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setLoading(true);
    load().then(
      (d) => {
        if (!current) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (!current) return;
        setError(e instanceof GraphQLRequestError ? e : new GraphQLRequestError(String(e), "INTERNAL", 0));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

export function ErrorLine({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof GraphQLRequestError ? error.code : null;
  return (
    <div className={`notice ${code === "CONFLICT" ? "notice-conflict" : "notice-error"}`} role="alert" data-testid="error">
      {code === "CONFLICT" ? t("conflict") : code === "FORBIDDEN" ? t("forbidden", { error: message }) : t("error", { error: message })}
    </div>
  );
}
