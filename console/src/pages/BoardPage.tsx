import { useEffect, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { request } from "../api/client";
import { PipelinesDocument, type PipelinesQuery } from "../api/generated";
import type { Identity } from "../auth";
import { BoardView } from "../board/Board";
import { useI18n } from "../i18n";

export type PipelineList = NonNullable<PipelinesQuery["pipelines"]>;

export function usePipelines(): { pipelines: PipelineList | null; error: string | null } {
  const [pipelines, setPipelines] = useState<PipelineList | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    request(PipelinesDocument, {}).then(
      (d) => setPipelines(d.pipelines ?? []),
      (e: Error) => setError(e.message),
    );
  }, []);
  return { pipelines, error };
}

export function BoardPage({ identity }: { identity: Identity }) {
  const { t } = useI18n();
  const { pipelineId } = useParams();
  const navigate = useNavigate();
  const { pipelines, error } = usePipelines();
  if (error) return <div className="notice notice-error">{t("error", { error })}</div>;
  // A pipeline named in the address loads at once; the list only fills the selector.
  if (!pipelines && !pipelineId) return <div className="muted">{t("loading")}</div>;
  const current = pipelines?.find((p) => p.id === pipelineId) ?? (pipelineId ? { id: pipelineId, name: pipelineId } : pipelines?.[0]);
  if (!current) return <div className="muted">{t("none")}</div>;
  return (
    <div>
      <div className="page-head">
        <label>
          {t("pipeline")}{" "}
          <select value={current.id} onChange={(e) => navigate(`/board/${e.target.value}`)} data-testid="pipeline-select">
            {(pipelines ?? [current]).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <BoardView key={current.id} pipelineId={current.id} canSeeAll={identity.roles.some((r) => r !== "rep")} />
    </div>
  );
}
