// Reports (its own chunk with recharts: the board never loads it): the funnel (COHORT or
// SNAPSHOT, all reps or one), time in stage with the bottleneck, win rate, cycle and velocity,
// the forecast by method with its interval, the backtest accuracy, and the pipeline as of a date.
import { useEffect, useRef, useState } from "react";
import { Bar, BarChart, CartesianGrid, Cell, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { request, subscribe } from "../api/client";
import { BacktestDocument, FunnelDocument, FunnelUpdatesDocument, ReportsDocument, type FunnelQuery, type ConversionMethod, type ForecastMethod } from "../api/generated";
import type { Identity } from "../auth";
import { useI18n } from "../i18n";
import { usePipelines } from "./BoardPage";
import { ErrorLine, useQuery } from "./common";

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export default function ReportsPage({ identity }: { identity: Identity }) {
  const { t, money, totals, percent } = useI18n();
  const { pipelines } = usePipelines();
  const [pipelineId, setPipelineId] = useState<string | null>(null);
  const [method, setMethod] = useState<ConversionMethod>("COHORT");
  const [ownerId, setOwnerId] = useState<string | null>(null);
  const today = new Date();
  const [periodStart, setPeriodStart] = useState(isoDate(today));
  const [periodEnd, setPeriodEnd] = useState(isoDate(new Date(today.getTime() + 90 * 86_400_000)));
  const [forecastMethod, setForecastMethod] = useState<ForecastMethod>("MARKOV");
  const [asOf, setAsOf] = useState(isoDate(today));
  const pid = pipelineId ?? pipelines?.[0]?.id ?? null;
  const funnel = useQuery(async () => (pid ? (await request(FunnelDocument, { pipelineId: pid, method, ownerId })).funnel : null), [pid, method, ownerId]);
  const reports = useQuery(
    async () =>
      pid
        ? await request(ReportsDocument, { pipelineId: pid, ownerId, periodStart, periodEnd, method: forecastMethod, at: new Date(`${asOf}T23:59:59Z`).toISOString() })
        : null,
    [pid, ownerId, periodStart, periodEnd, forecastMethod, asOf],
  );
  // The funnel follows the graph live (funnelUpdates sends the same report whenever it changed).
  const [liveFunnel, setLiveFunnel] = useState<{ key: string; report: NonNullable<FunnelQuery["funnel"]> } | null>(null);
  const funnelKey = `${pid}|${method}|${ownerId ?? ""}`;
  useEffect(() => {
    if (!pid) return;
    return subscribe(FunnelUpdatesDocument, { pipelineId: pid, method, ownerId }, (d) => setLiveFunnel({ key: funnelKey, report: d.funnelUpdates }));
  }, [pid, method, ownerId, funnelKey]);
  const funnelReport = liveFunnel?.key === funnelKey ? liveFunnel.report : funnel.data;
  const backtest = useQuery(async () => (pid ? (await request(BacktestDocument, { pipelineId: pid, periods: 4, periodDays: 90 })).forecastBacktest : null), [pid]);
  const perf = reports.data?.salesPerformance;
  // Every rep seen so far stays in the selector (the report of one rep names only that rep).
  const seenOwners = useRef(new Set<string>());
  perf?.owners.forEach((o) => o.ownerId && seenOwners.current.add(o.ownerId));
  const owners = [...seenOwners.current].sort();
  const bottleneck = reports.data?.stageDurations?.find((s) => s.bottleneck);
  const steps = funnelReport?.steps ?? [];
  const isRep = identity.roles.every((r) => r === "rep");
  return (
    <div>
      <div className="page-head">
        <h1>{t("reportsTitle")}</h1>
        {pipelines && (
          <select value={pid ?? ""} onChange={(e) => setPipelineId(e.target.value)} aria-label={t("pipeline")}>
            {pipelines.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        )}
        {!isRep && (
          <select value={ownerId ?? ""} onChange={(e) => setOwnerId(e.target.value || null)} aria-label={t("owner")} data-testid="report-owner">
            <option value="">{t("allReps")}</option>
            {owners.map((o) => <option key={o} value={o}>{o}</option>)}
          </select>
        )}
      </div>
      <div className="grid">
        <section className="panel" data-testid="funnel">
          <h2>{t("funnel")}</h2>
          <select value={method} onChange={(e) => setMethod(e.target.value as ConversionMethod)} aria-label={t("method")} data-testid="funnel-method">
            <option value="COHORT">{t("cohort")}</option>
            <option value="SNAPSHOT">{t("snapshot")}</option>
          </select>
          <ErrorLine error={funnel.error} />
          <div className="chart">
            <ResponsiveContainer>
              <BarChart data={steps} layout="vertical" margin={{ left: 40 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis type="number" allowDecimals={false} />
                <YAxis type="category" dataKey="stageName" width={110} />
                <Tooltip />
                <Legend />
                <Bar dataKey="entered" name={t("entered")} fill="#2f6fed" isAnimationActive={false} />
                <Bar dataKey="advanced" name={t("advanced")} fill="#1f9d55" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
          <table>
            <thead><tr><th>{t("stage")}</th><th>{t("entered")}</th><th>{t("advanced")}</th><th>{t("conversion")}</th></tr></thead>
            <tbody>
              {steps.map((s) => (
                <tr key={s.stageId} data-testid={`funnel-step-${s.stageId}`}>
                  <td>{s.stageName}</td><td data-testid={`funnel-entered-${s.stageId}`}>{s.entered}</td><td>{s.advanced}</td><td>{percent(s.conversionRate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {funnelReport && <p className="muted">{t("won")}: {funnelReport.won} · {t("lost")}: {funnelReport.lost}</p>}
        </section>
        <section className="panel">
          <h2>{t("stageDurations")}</h2>
          <ErrorLine error={reports.error} />
          {bottleneck && <p className="notice notice-conflict" data-testid="bottleneck">{t("bottleneck", { stage: bottleneck.stageName })}</p>}
          <div className="chart">
            <ResponsiveContainer>
              <BarChart data={reports.data?.stageDurations ?? []}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="stageName" />
                <YAxis width={48} tickFormatter={(v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(2))} />
                <Tooltip />
                <Legend />
                <Bar dataKey="meanDays" name={t("mean")} fill="#2f6fed" isAnimationActive={false}>
                  {(reports.data?.stageDurations ?? []).map((s) => <Cell key={s.stageId} fill={s.bottleneck ? "#c2413b" : "#2f6fed"} />)}
                </Bar>
                <Bar dataKey="medianDays" name={t("median")} fill="#8aa8f0" isAnimationActive={false} />
                <Bar dataKey="p90Days" name={t("p90")} fill="#b7791f" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
        </section>
        <section className="panel" data-testid="performance">
          <h2>{t("performance")}</h2>
          {perf && (
            <dl className="props">
              <dt>{t("winRate")}</dt><dd>{percent(perf.winRate)} ({t("won")} {perf.won} / {t("lost")} {perf.lost})</dd>
              <dt>{t("won")}</dt><dd>{totals(perf.wonAmount)}</dd>
              <dt>{t("cycle")}</dt><dd>{perf.avgCycleDays.toFixed(1)} / {perf.medianCycleDays.toFixed(1)}</dd>
              <dt>{t("velocity")}</dt><dd>{totals(perf.velocity)}</dd>
            </dl>
          )}
          {perf && perf.owners.length > 0 && (
            <table>
              <thead><tr><th>{t("owner")}</th><th>{t("winRate")}</th><th>{t("won")}</th><th>{t("lost")}</th></tr></thead>
              <tbody>{perf.owners.map((o) => <tr key={o.ownerId ?? ""}><td>{o.ownerId}</td><td>{percent(o.winRate)}</td><td>{o.won}</td><td>{o.lost}</td></tr>)}</tbody>
            </table>
          )}
        </section>
        <section className="panel" data-testid="forecast">
          <h2>{t("forecast")}</h2>
          <div className="form">
            <select value={forecastMethod} onChange={(e) => setForecastMethod(e.target.value as ForecastMethod)} aria-label={t("method")}>
              <option value="MARKOV">Markov</option>
              <option value="HISTORICAL">Historical</option>
              <option value="WEIGHTED">Weighted</option>
            </select>
            <label>{t("periodStart")}<input type="date" value={periodStart} onChange={(e) => setPeriodStart(e.target.value)} /></label>
            <label>{t("periodEnd")}<input type="date" value={periodEnd} onChange={(e) => setPeriodEnd(e.target.value)} /></label>
          </div>
          {reports.data?.forecast && (
            <table>
              <thead><tr><th>{t("currency")}</th><th>{t("expected")}</th><th>{t("low")} – {t("high")}</th></tr></thead>
              <tbody>
                {reports.data.forecast.expected.map((m) => {
                  const low = reports.data?.forecast?.low.find((l) => l.currency === m.currency);
                  const high = reports.data?.forecast?.high.find((h) => h.currency === m.currency);
                  return <tr key={m.currency}><td>{m.currency}</td><td>{money(m)}</td><td>{low ? money(low) : "—"} – {high ? money(high) : "—"}</td></tr>;
                })}
              </tbody>
            </table>
          )}
          <h2 style={{ marginTop: 12 }}>{t("backtest")}</h2>
          <ErrorLine error={backtest.error} />
          <table>
            <tbody>
              {(backtest.data ?? []).map((b) => (
                <tr key={b.method}><td>{b.method}</td><td>{b.mape == null ? "—" : percent(b.mape)}</td><td className="muted">{b.periods.length} × 90 d</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="panel" data-testid="as-of">
          <h2>{t("asOf")} <input type="date" value={asOf} onChange={(e) => setAsOf(e.target.value)} aria-label={t("asOf")} /></h2>
          <table>
            <thead><tr><th>{t("stage")}</th><th>{t("count")}</th><th>{t("total")}</th><th>{t("weighted")}</th></tr></thead>
            <tbody>
              {(reports.data?.pipelineAsOf ?? []).map((s) => (
                <tr key={s.stageId}><td>{s.stageName}</td><td>{s.count}</td><td>{totals(s.amount)}</td><td>{totals(s.weightedAmount)}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </div>
  );
}
