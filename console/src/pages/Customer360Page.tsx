// The customer 360: profile, contacts, company, lifecycle, lead source, tags and attributes; the
// timeline (paged, filtered by kind) with every interaction and deal step; logging one; the
// customer's deals with their stages; the audit trail; duplicate candidates with a merge that
// is previewed (dry run) before anything is written.
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { request } from "../api/client";
import {
  Customer360Document,
  LogInteractionDocument,
  MergeCustomersDocument,
  TimelineDocument,
  type InteractionKind,
  type MergeCustomersMutation,
  type TimelineQuery,
} from "../api/generated";
import { useI18n, type I18n } from "../i18n";
import { ErrorLine, useQuery } from "./common";

type Key = Parameters<I18n["t"]>[0];
export const KINDS: InteractionKind[] = ["CALL", "EMAIL", "MEETING", "NOTE", "MATERIAL_VIEWED", "PURCHASE", "SERVICE_TICKET", "QUOTE", "STAGE_CHANGE", "LIFECYCLE_CHANGE"];
const LOGGABLE: InteractionKind[] = ["CALL", "EMAIL", "MEETING", "NOTE", "QUOTE"];
type Entry = NonNullable<TimelineQuery["customer"]>["timeline"]["edges"][number]["node"];

function show(value: unknown): string {
  if (value == null) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function Timeline({ customerId, refresh }: { customerId: string; refresh: number }) {
  const { t, dateTime } = useI18n();
  const [kinds, setKinds] = useState<InteractionKind | "">("");
  const [entries, setEntries] = useState<Entry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const load = async (after: string | null) => {
    try {
      const data = await request(TimelineDocument, { id: customerId, kinds: kinds ? [kinds] : null, first: 20, after });
      const timeline = data.customer?.timeline;
      if (!timeline) return;
      setEntries((old) => (after ? [...old, ...timeline.edges.map((e) => e.node)] : timeline.edges.map((e) => e.node)));
      setNext(timeline.pageInfo.hasNextPage ? timeline.pageInfo.endCursor : null);
      setTotal(timeline.totalCount);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [customerId, kinds, refresh]);
  return (
    <section className="panel" data-testid="timeline">
      <h2>
        {t("timeline")} <span className="muted">({total})</span>
      </h2>
      <select value={kinds} onChange={(e) => setKinds(e.target.value as InteractionKind | "")} data-testid="timeline-kind" aria-label={t("kind")}>
        <option value="">{t("allKinds")}</option>
        {KINDS.map((k) => (
          <option key={k} value={k}>{t(`kind${k}` as Key)}</option>
        ))}
      </select>
      <ErrorLine error={error} />
      <ul className="timeline">
        {entries.map((entry) => (
          <li key={entry.id} data-testid={`timeline-${entry.kind}`}>
            <span className="badge">{t(`kind${entry.kind}` as Key)}</span> <strong>{entry.summary}</strong>{" "}
            <span className="muted">
              {dateTime(entry.occurredAt)} · {entry.actorName ?? entry.actorId ?? ""}
              {entry.opportunityId ? <> · <Link to={`/deals/${entry.opportunityId}`}>{t("dealTitle")}</Link></> : null}
            </span>
          </li>
        ))}
      </ul>
      {next && <button onClick={() => void load(next)}>{t("loadMore")}</button>}
    </section>
  );
}

export default function Customer360Page() {
  const { id = "" } = useParams();
  const { t, money, totals, dateTime } = useI18n();
  const { data, error, reload } = useQuery(() => request(Customer360Document, { id }), [id]);
  const [refresh, setRefresh] = useState(0);
  const [draft, setDraft] = useState<{ kind: InteractionKind; summary: string }>({ kind: "CALL", summary: "" });
  const [actionError, setActionError] = useState<unknown>(null);
  const [preview, setPreview] = useState<{ sourceId: string; result: MergeCustomersMutation["mergeCustomers"] } | null>(null);
  const [merged, setMerged] = useState(false);
  if (error) return <ErrorLine error={error} />;
  const customer = data?.customer;
  if (!customer) return <div className="muted">{t("loading")}</div>;
  const duplicates = data?.duplicateCandidates ?? [];
  const merge = (sourceId: string, dryRun: boolean) => {
    setActionError(null);
    request(MergeCustomersDocument, { targetId: customer.id, sourceIds: [sourceId], dryRun }).then(
      (d) => {
        if (dryRun) setPreview({ sourceId, result: d.mergeCustomers });
        else {
          setPreview(null);
          setMerged(true);
          reload();
          setRefresh((n) => n + 1);
        }
      },
      setActionError,
    );
  };
  return (
    <div>
      <div className="page-head">
        <h1 data-testid="customer-name">{customer.name}</h1>
        <span className="badge">{t(`kind${customer.kind}` as Key)}</span>
        <span className="badge" data-testid="customer-lifecycle">{t(`lifecycle${customer.lifecycle}` as Key)}</span>
      </div>
      <ErrorLine error={actionError} />
      <div className="grid">
        <section className="panel">
          <h2>{t("profile")}</h2>
          <dl className="props">
            <dt>{t("email")}</dt><dd>{[customer.email, ...customer.emails.filter((e) => e !== customer.email)].filter(Boolean).join(", ") || "—"}</dd>
            <dt>{t("phone")}</dt><dd>{[customer.phone, ...customer.phones.filter((p) => p !== customer.phone)].filter(Boolean).join(", ") || "—"}</dd>
            <dt>{t("company")}</dt><dd>{customer.company ? <Link to={`/customers/${customer.company.id}`}>{customer.company.name}</Link> : "—"}</dd>
            <dt>{t("lifecycle")}</dt><dd>{t(`lifecycle${customer.lifecycle}` as Key)} {customer.lifecycleReason ? `(${customer.lifecycleReason})` : ""} <span className="muted">{dateTime(customer.lifecycleChangedAt)}</span></dd>
            <dt>{t("source")}</dt><dd>{customer.source ? [customer.source.channel, customer.source.campaign, customer.source.medium, customer.source.referrer].filter(Boolean).join(" / ") : "—"}</dd>
            <dt>{t("owner")}</dt><dd>{customer.ownerId}{customer.team ? ` · ${customer.team}` : ""}</dd>
            <dt>{t("tags")}</dt><dd>{customer.tags.map((tag) => <span key={tag} className="badge">{tag}</span>)}</dd>
            <dt>{t("openPipelineValue")}</dt><dd>{totals(customer.openPipelineValue ?? [])}</dd>
          </dl>
          {customer.attributes && typeof customer.attributes === "object" ? (
            <>
              <h2 style={{ marginTop: 12 }}>{t("attributes")}</h2>
              <dl className="props">
                {Object.entries(customer.attributes as Record<string, unknown>).map(([k, v]) => (
                  <FragmentRow key={k} name={k} value={show(v)} />
                ))}
              </dl>
            </>
          ) : null}
        </section>
        <section className="panel">
          <h2>{t("contacts")}</h2>
          {customer.contacts.length === 0 ? <p className="muted">{t("none")}</p> : (
            <ul>{customer.contacts.map((c) => <li key={c.id}><Link to={`/customers/${c.id}`}>{c.name}</Link> <span className="muted">{c.email ?? ""}</span></li>)}</ul>
          )}
          <h2>{t("deals")}</h2>
          <table data-testid="customer-deals">
            <tbody>
              {(customer.opportunities ?? []).map((o) => (
                <tr key={o.id}>
                  <td><Link to={`/deals/${o.id}`}>{o.title}</Link></td>
                  <td>{o.stage.name}</td>
                  <td>{money(o.amount)}</td>
                  <td>{t(`status${o.status}` as Key)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <div className="grid">
        <div>
          <section className="panel">
            <h2>{t("logInteraction")}</h2>
            <form
              className="form"
              onSubmit={(e) => {
                e.preventDefault();
                request(LogInteractionDocument, { customerId: customer.id, input: { kind: draft.kind, summary: draft.summary.trim() } }).then(
                  () => {
                    setDraft({ ...draft, summary: "" });
                    setRefresh((n) => n + 1);
                  },
                  setActionError,
                );
              }}
            >
              <select value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.target.value as InteractionKind })} aria-label={t("kind")}>
                {LOGGABLE.map((k) => <option key={k} value={k}>{t(`kind${k}` as Key)}</option>)}
              </select>
              <input required placeholder={t("summary")} value={draft.summary} onChange={(e) => setDraft({ ...draft, summary: e.target.value })} aria-label={t("summary")} data-testid="log-summary" />
              <button className="primary" type="submit" data-testid="log-submit">{t("log")}</button>
            </form>
          </section>
          <Timeline customerId={customer.id} refresh={refresh} />
        </div>
        <div>
          <section className="panel" data-testid="duplicates">
            <h2>{t("duplicates")}</h2>
            {merged && <div className="notice notice-ok">{t("mergeDone")}</div>}
            {duplicates.length === 0 ? <p className="muted">{t("noDuplicates")}</p> : (
              <ul>
                {duplicates.map((d) => (
                  <li key={d.id}>
                    <Link to={`/customers/${d.id}`}>{d.name}</Link> <span className="muted">{d.email ?? d.phone ?? ""}</span>{" "}
                    <button onClick={() => merge(d.id, true)} data-testid={`merge-preview-${d.id}`}>{t("mergePreview")}</button>
                  </li>
                ))}
              </ul>
            )}
            {preview && (
              <div className="panel" data-testid="merge-preview">
                <h2>{t("mergePreviewTitle")}</h2>
                <p>{t("movedInteractions", { count: preview.result.movedInteractions })} · {t("movedContacts", { count: preview.result.movedContacts })}</p>
                <table>
                  <thead><tr><th>{t("field")}</th><th>→</th></tr></thead>
                  <tbody>
                    {preview.result.changes.map((c) => (
                      <tr key={c.field}><td>{c.field}</td><td>{show(c.from)} → <strong>{show(c.to)}</strong></td></tr>
                    ))}
                  </tbody>
                </table>
                <div className="modal-actions">
                  <button onClick={() => setPreview(null)}>{t("cancel")}</button>
                  <button className="primary" onClick={() => merge(preview.sourceId, false)} data-testid="merge-confirm">{t("mergeDo")}</button>
                </div>
              </div>
            )}
          </section>
          <section className="panel">
            <h2>{t("audit")}</h2>
            <table>
              <tbody>
                {customer.audit.edges.map(({ node: a }) => (
                  <tr key={a.version + a.action}>
                    <td>{dateTime(a.at)}</td>
                    <td>{a.action}</td>
                    <td className="muted">{a.actorName ?? a.actorId ?? ""}</td>
                    <td>{a.changes.map((c) => `${c.field}: ${show(c.from)} → ${show(c.to)}`).join("; ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </div>
      </div>
    </div>
  );
}

function FragmentRow({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}
