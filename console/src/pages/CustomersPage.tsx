// Customers: search (the server's search is accent-, case- and CJK-aware), filters by lifecycle,
// kind and tag, sort, cursor paging; create; export of the whole selection as CSV.
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { request } from "../api/client";
import { CreateCustomerDocument, CustomersDocument, type CustomerFilter, type CustomerSortField, type CustomersQuery, type LifecycleStage, type CustomerKind } from "../api/generated";
import { useI18n, type I18n } from "../i18n";
import { ErrorLine, useQuery } from "./common";
import { downloadCsv, toCsv } from "./csv";
import { ImportPanel } from "./ImportPanel";

const PAGE = 25;
const LIFECYCLES: LifecycleStage[] = ["LEAD", "PROSPECT", "CUSTOMER", "CHURNED"];
type Key = Parameters<I18n["t"]>[0];

export default function CustomersPage() {
  const { t, dateTime } = useI18n();
  const navigate = useNavigate();
  const [search, setSearch] = useState("");
  const [lifecycle, setLifecycle] = useState<LifecycleStage | "">("");
  const [kind, setKind] = useState<CustomerKind | "">("");
  const [tag, setTag] = useState("");
  const [sortField, setSortField] = useState<CustomerSortField>("NAME");
  const [direction, setDirection] = useState<"ASC" | "DESC">("ASC");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [draft, setDraft] = useState({ name: "", email: "", kind: "COMPANY" as CustomerKind });
  const [createError, setCreateError] = useState<unknown>(null);
  const filter: CustomerFilter = {
    search: search.trim() || null,
    lifecycle: lifecycle ? [lifecycle] : null,
    kind: kind || null,
    tag: tag.trim() || null,
  };
  const after = cursors[cursors.length - 1];
  const { data, error, reload } = useQuery(
    () => request(CustomersDocument, { filter, first: PAGE, after, sort: { field: sortField, direction } }),
    [search, lifecycle, kind, tag, sortField, direction, after],
  );
  const restart = () => setCursors([null]);
  const page = data?.customers;

  const exportAll = async () => {
    const rows: NonNullable<CustomersQuery["customers"]>["edges"][number]["node"][] = [];
    let cursor: string | null = null;
    for (;;) {
      const answer: CustomersQuery = await request(CustomersDocument, { filter, first: 100, after: cursor, sort: { field: sortField, direction } });
      const connection = answer.customers;
      if (!connection) break;
      rows.push(...connection.edges.map((e) => e.node));
      if (!connection.pageInfo.hasNextPage) break;
      cursor = connection.pageInfo.endCursor;
    }
    downloadCsv(
      "customers.csv",
      toCsv(["id", "kind", "name", "email", "phone", "lifecycle", "ownerId", "tags", "company", "createdAt"], rows.map((c) => [c.id, c.kind, c.name, c.email, c.phone, c.lifecycle, c.ownerId, c.tags.join(";"), c.company?.name, c.createdAt])),
    );
  };

  return (
    <div>
      <div className="page-head">
        <h1>{t("customersTitle")}</h1>
        <button onClick={() => void exportAll()}>{t("export")}</button>
      </div>
      <div className="toolbar">
        <input
          type="search"
          placeholder={t("search")}
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
            restart();
          }}
          style={{ minWidth: 280 }}
          data-testid="customer-search"
          aria-label={t("search")}
        />
        <label>
          {t("lifecycle")}{" "}
          <select value={lifecycle} onChange={(e) => { setLifecycle(e.target.value as LifecycleStage | ""); restart(); }}>
            <option value="">{t("any")}</option>
            {LIFECYCLES.map((l) => (
              <option key={l} value={l}>{t(`lifecycle${l}` as Key)}</option>
            ))}
          </select>
        </label>
        <label>
          {t("kind")}{" "}
          <select value={kind} onChange={(e) => { setKind(e.target.value as CustomerKind | ""); restart(); }}>
            <option value="">{t("any")}</option>
            <option value="COMPANY">{t("kindCOMPANY")}</option>
            <option value="PERSON">{t("kindPERSON")}</option>
          </select>
        </label>
        <label>
          {t("tags")} <input value={tag} onChange={(e) => { setTag(e.target.value); restart(); }} size={10} />
        </label>
        <label>
          {t("sort")}{" "}
          <select value={sortField} onChange={(e) => { setSortField(e.target.value as CustomerSortField); restart(); }}>
            <option value="NAME">{t("sortName")}</option>
            <option value="CREATED_AT">{t("sortCreated")}</option>
            <option value="UPDATED_AT">{t("sortUpdated")}</option>
          </select>
          <select value={direction} onChange={(e) => { setDirection(e.target.value as "ASC" | "DESC"); restart(); }} aria-label={t("sort")}>
            <option value="ASC">{t("ascending")}</option>
            <option value="DESC">{t("descending")}</option>
          </select>
        </label>
      </div>
      <ErrorLine error={error} />
      {page && (
        <>
          <p className="muted" data-testid="customer-count">{t("results", { count: page.totalCount })}</p>
          <table className="panel">
            <thead>
              <tr><th>{t("name")}</th><th>{t("kind")}</th><th>{t("email")}</th><th>{t("lifecycle")}</th><th>{t("owner")}</th><th>{t("tags")}</th><th>{t("created")}</th></tr>
            </thead>
            <tbody>
              {page.edges.map(({ node: c }) => (
                <tr key={c.id} data-testid={`customer-row-${c.id}`}>
                  <td><Link to={`/customers/${c.id}`}>{c.name}</Link>{c.company ? <span className="muted"> · {c.company.name}</span> : null}</td>
                  <td>{t(`kind${c.kind}` as Key)}</td>
                  <td>{c.email ?? "—"}</td>
                  <td>{t(`lifecycle${c.lifecycle}` as Key)}</td>
                  <td>{c.ownerId}</td>
                  <td>{c.tags.join(", ")}</td>
                  <td>{dateTime(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="toolbar">
            <button disabled={cursors.length === 1} onClick={restart}>{t("first")}</button>
            <button disabled={!page.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, page.pageInfo.endCursor])}>{t("next")}</button>
          </div>
        </>
      )}
      <section className="panel">
        <h2>{t("newCustomer")}</h2>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            setCreateError(null);
            request(CreateCustomerDocument, { input: { kind: draft.kind, name: draft.name.trim(), email: draft.email.trim() || null } }).then(
              (d) => navigate(`/customers/${d.createCustomer.id}`),
              setCreateError,
            );
          }}
        >
          <label>{t("kind")}
            <select value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.target.value as CustomerKind })}>
              <option value="COMPANY">{t("kindCOMPANY")}</option>
              <option value="PERSON">{t("kindPERSON")}</option>
            </select>
          </label>
          <label>{t("name")}<input required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} /></label>
          <label>{t("email")}<input type="email" value={draft.email} onChange={(e) => setDraft({ ...draft, email: e.target.value })} /></label>
          <button className="primary" type="submit">{t("create")}</button>
        </form>
        <ErrorLine error={createError} />
      </section>
      <ImportPanel onImported={reload} />
    </div>
  );
}
