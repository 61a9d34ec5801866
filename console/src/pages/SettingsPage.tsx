// Pipeline settings (managers): stage names, order, probabilities and rotting days, each change
// sent with the pipeline's version (a concurrent edit is a CONFLICT, shown, then reloaded).
import { useState } from "react";
import { request } from "../api/client";
import { AddStageDocument, ReorderStagesDocument, UpdateStageDocument } from "../api/generated";
import { useI18n } from "../i18n";
import { usePipelines } from "./BoardPage";
import { ErrorLine } from "./common";

export default function SettingsPage() {
  const { t } = useI18n();
  const { pipelines } = usePipelines();
  const [pipelineId, setPipelineId] = useState<string | null>(null);
  const [override, setOverride] = useState<{ version: number; stages: NonNullable<typeof pipelines>[number]["stages"] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [newStage, setNewStage] = useState({ name: "", probability: "0.5" });
  if (!pipelines) return <div className="muted">{t("loading")}</div>;
  const pipeline = pipelines.find((p) => p.id === pipelineId) ?? pipelines[0];
  if (!pipeline) return <div className="muted">{t("none")}</div>;
  const version = override?.version ?? pipeline.version;
  const stages = [...(override?.stages ?? pipeline.stages)].sort((a, b) => a.order - b.order);
  const open = stages.filter((s) => s.kind === "OPEN");
  const run = (p: Promise<{ version: number; stages: typeof stages }>) =>
    p.then(
      (next) => {
        setOverride({ version: next.version, stages: next.stages });
        setError(null);
      },
      (e: unknown) => setError(e),
    );
  const move = (index: number, delta: number) => {
    const ids = open.map((s) => s.id);
    const [id] = ids.splice(index, 1);
    ids.splice(index + delta, 0, id);
    const all = [...ids, ...stages.filter((s) => s.kind !== "OPEN").map((s) => s.id)];
    void run(request(ReorderStagesDocument, { pipelineId: pipeline.id, stageIds: all, expectedVersion: version }).then((d) => d.reorderStages));
  };
  return (
    <div>
      <div className="page-head">
        <h1>{t("settingsTitle")}</h1>
        <select value={pipeline.id} onChange={(e) => { setPipelineId(e.target.value); setOverride(null); }} aria-label={t("pipeline")}>
          {pipelines.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
      </div>
      <ErrorLine error={error} />
      <table className="panel">
        <thead><tr><th>{t("stage")}</th><th>{t("probability")}</th><th>{t("rottingDays")}</th><th /></tr></thead>
        <tbody>
          {stages.map((stage) => {
            const index = open.findIndex((s) => s.id === stage.id);
            return (
              <tr key={stage.id + version} data-testid={`stage-row-${stage.id}`}>
                <td>
                  <input defaultValue={stage.name} aria-label={t("stage")} onBlur={(e) => e.target.value !== stage.name && void run(request(UpdateStageDocument, { pipelineId: pipeline.id, stageId: stage.id, input: { name: e.target.value }, expectedVersion: version }).then((d) => d.updateStage))} />{" "}
                  <span className="badge">{stage.kind}</span>
                </td>
                <td>
                  <input type="number" min={0} max={1} step={0.05} defaultValue={stage.probability} aria-label={t("probability")} disabled={stage.kind !== "OPEN"}
                    onBlur={(e) => Number(e.target.value) !== stage.probability && void run(request(UpdateStageDocument, { pipelineId: pipeline.id, stageId: stage.id, input: { probability: Number(e.target.value) }, expectedVersion: version }).then((d) => d.updateStage))} />
                </td>
                <td>
                  <input type="number" min={1} defaultValue={stage.rottingDays ?? ""} aria-label={t("rottingDays")} disabled={stage.kind !== "OPEN"}
                    onBlur={(e) => e.target.value && Number(e.target.value) !== stage.rottingDays && void run(request(UpdateStageDocument, { pipelineId: pipeline.id, stageId: stage.id, input: { rottingDays: Number(e.target.value) }, expectedVersion: version }).then((d) => d.updateStage))} />
                </td>
                <td>
                  {stage.kind === "OPEN" && (
                    <>
                      <button disabled={index === 0} onClick={() => move(index, -1)} aria-label={`${t("moveUp")} ${stage.name}`}>↑</button>
                      <button disabled={index === open.length - 1} onClick={() => move(index, 1)} aria-label={`${t("moveDown")} ${stage.name}`}>↓</button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <form
        className="form panel"
        onSubmit={(e) => {
          e.preventDefault();
          void run(request(AddStageDocument, { pipelineId: pipeline.id, input: { name: newStage.name.trim(), probability: Number(newStage.probability), kind: "OPEN" }, expectedVersion: version }).then((d) => d.addStage));
          setNewStage({ name: "", probability: "0.5" });
        }}
      >
        <label>{t("stage")}<input required value={newStage.name} onChange={(e) => setNewStage({ ...newStage, name: e.target.value })} /></label>
        <label>{t("probability")}<input type="number" min={0} max={1} step={0.05} value={newStage.probability} onChange={(e) => setNewStage({ ...newStage, probability: e.target.value })} /></label>
        <button type="submit" className="primary">{t("addStage")}</button>
      </form>
    </div>
  );
}
