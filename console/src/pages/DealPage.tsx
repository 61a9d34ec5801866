// A deal: its details and stage history; amount, close date and next step edited in place
// (with the version read, so a concurrent change is a CONFLICT, not a silent overwrite); win,
// lose with a reason, reopen into an open stage.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { request } from "../api/client";
import {
  LoseOpportunityDocument,
  OpportunityDocument,
  ReopenOpportunityDocument,
  UpdateOpportunityDocument,
  WinOpportunityDocument,
} from "../api/generated";
import { useI18n, type I18n } from "../i18n";
import { ErrorLine, useQuery } from "./common";

function statusName(t: I18n["t"], status: string): string {
  return t(`status${status}` as Parameters<I18n["t"]>[0]);
}

export default function DealPage() {
  const { id = "" } = useParams();
  const i18n = useI18n();
  const { t, money, date, dateTime } = i18n;
  const { data, error, reload } = useQuery(() => request(OpportunityDocument, { id }), [id]);
  const [edit, setEdit] = useState<{ amount?: string; currency?: string; closeDate?: string; nextStep?: string }>({});
  const [reason, setReason] = useState("");
  const [reopenStage, setReopenStage] = useState("");
  const [actionError, setActionError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const deal = data?.opportunity;
  if (error) return <ErrorLine error={error} />;
  if (!deal) return <div className="muted">{t("loading")}</div>;
  const stageName = (sid: string | null | undefined) => deal.pipeline.stages.find((s) => s.id === sid)?.name ?? sid ?? "—";

  const act = async (run: () => Promise<unknown>) => {
    setActionError(null);
    setSaved(false);
    try {
      await run();
      setSaved(true);
      setEdit({});
      reload();
    } catch (e) {
      setActionError(e);
      reload();
    }
  };
  const base = { id: deal.id, expectedVersion: deal.version };
  return (
    <div>
      <div className="page-head">
        <h1 data-testid="deal-title">{deal.title}</h1>
        <span className="badge">{statusName(t, deal.status)}</span>
      </div>
      <ErrorLine error={actionError} />
      {saved && <div className="notice notice-ok">{t("saved")}</div>}
      <div className="grid">
        <section className="panel">
          <h2>{t("dealTitle")}</h2>
          <dl className="props">
            <dt>{t("customer")}</dt>
            <dd>{deal.customer ? <Link to={`/customers/${deal.customer.id}`}>{deal.customer.name}</Link> : "—"}</dd>
            <dt>{t("amount")}</dt>
            <dd>{money(deal.amount)}</dd>
            <dt>{t("stage")}</dt>
            <dd>{deal.stage.name}</dd>
            <dt>{t("owner")}</dt>
            <dd>{deal.ownerId}</dd>
            <dt>{t("closeDate")}</dt>
            <dd>{date(deal.expectedCloseDate)}</dd>
            <dt>{t("nextStep")}</dt>
            <dd>{deal.nextStep ?? "—"}</dd>
            <dt>{t("priority")}</dt>
            <dd>{deal.priority}</dd>
            <dt>{t("created")}</dt>
            <dd>{dateTime(deal.createdAt)}</dd>
            {deal.lostReason && (
              <>
                <dt>{t("lostReason")}</dt>
                <dd data-testid="deal-lost-reason">{deal.lostReason}</dd>
              </>
            )}
          </dl>
        </section>
        <section className="panel">
          <h2>{t("save")}</h2>
          <form
            className="form"
            onSubmit={(e) => {
              e.preventDefault();
              const input: Record<string, unknown> = {};
              if (edit.amount !== undefined || edit.currency !== undefined)
                input.amount = { amount: edit.amount ?? deal.amount.amount, currency: edit.currency ?? deal.amount.currency };
              if (edit.closeDate !== undefined) input.expectedCloseDate = edit.closeDate || null;
              if (edit.nextStep !== undefined) input.nextStep = edit.nextStep;
              void act(() => request(UpdateOpportunityDocument, { ...base, input }));
            }}
          >
            <label>
              {t("amount")}
              <input inputMode="decimal" value={edit.amount ?? deal.amount.amount} onChange={(e) => setEdit({ ...edit, amount: e.target.value })} data-testid="deal-amount" />
            </label>
            <label>
              {t("currency")}
              <input size={4} value={edit.currency ?? deal.amount.currency} onChange={(e) => setEdit({ ...edit, currency: e.target.value.toUpperCase() })} />
            </label>
            <label>
              {t("closeDate")}
              <input type="date" value={edit.closeDate ?? deal.expectedCloseDate ?? ""} onChange={(e) => setEdit({ ...edit, closeDate: e.target.value })} />
            </label>
            <label>
              {t("nextStep")}
              <input value={edit.nextStep ?? deal.nextStep ?? ""} onChange={(e) => setEdit({ ...edit, nextStep: e.target.value })} />
            </label>
            <button className="primary" type="submit" data-testid="deal-save">
              {t("save")}
            </button>
          </form>
          {deal.status === "OPEN" ? (
            <div className="form" style={{ marginTop: 12 }}>
              <button onClick={() => void act(() => request(WinOpportunityDocument, base))} data-testid="deal-win">
                {t("win")}
              </button>
              <input placeholder={t("lostReason")} value={reason} onChange={(e) => setReason(e.target.value)} aria-label={t("lostReason")} />
              <button disabled={!reason.trim()} onClick={() => void act(() => request(LoseOpportunityDocument, { ...base, reason: reason.trim() }))}>
                {t("lose")}
              </button>
            </div>
          ) : (
            <div className="form" style={{ marginTop: 12 }}>
              <select value={reopenStage} onChange={(e) => setReopenStage(e.target.value)} aria-label={t("reopen")}>
                <option value="">{t("reopen")}…</option>
                {deal.pipeline.stages
                  .filter((s) => s.kind === "OPEN")
                  .map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.name}
                    </option>
                  ))}
              </select>
              <button disabled={!reopenStage} onClick={() => void act(() => request(ReopenOpportunityDocument, { ...base, stageId: reopenStage }))}>
                {t("reopen")}
              </button>
            </div>
          )}
        </section>
      </div>
      <section className="panel">
        <h2>{t("stageHistory")}</h2>
        <table>
          <tbody>
            {deal.stageHistory.map((step, index) => (
              <tr key={index}>
                <td>{dateTime(step.at)}</td>
                <td>
                  {step.fromStage?.name ?? stageName(step.fromStageId)} → {step.toStage?.name ?? stageName(step.toStageId)}
                </td>
                <td>{money(step.amount)}</td>
                <td className="muted">{step.actorId ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
