// CSV import: a file (or pasted text) checked first (dry run) or imported; every bad row is
// listed with its line and field, the good ones go in regardless.
import { useState } from "react";
import { request } from "../api/client";
import { ImportCustomersDocument, type ImportCustomersMutation } from "../api/generated";
import { useI18n } from "../i18n";
import { ErrorLine } from "./common";

export function ImportPanel({ onImported }: { onImported: () => void }) {
  const { t } = useI18n();
  const [csv, setCsv] = useState("");
  const [dryRun, setDryRun] = useState(true);
  const [report, setReport] = useState<ImportCustomersMutation["importCustomers"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <section className="panel" data-testid="import">
      <h2>{t("importTitle")}</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          request(ImportCustomersDocument, { csv, dryRun }).then((d) => {
            setReport(d.importCustomers);
            if (!dryRun) onImported();
          }, setError);
        }}
      >
        <input type="file" accept=".csv,text/csv" onChange={(e) => void e.target.files?.[0]?.text().then(setCsv)} aria-label={t("importTitle")} />
        <textarea rows={3} cols={50} value={csv} onChange={(e) => setCsv(e.target.value)} placeholder="kind,name,email" data-testid="import-csv" />
        <label style={{ flexDirection: "row" }}>
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> {t("importDryRun")}
        </label>
        <button className="primary" type="submit" disabled={!csv.trim()} data-testid="import-run">{t("importRun")}</button>
      </form>
      <ErrorLine error={error} />
      {report && (
        <div data-testid="import-report">
          <p>{t("importReport", { rows: report.rows, created: report.created, updated: report.updated, unchanged: report.unchanged, failed: report.failed })}</p>
          {report.errors.length > 0 && (
            <table>
              <thead><tr><th>{t("line")}</th><th>{t("field")}</th><th>{t("message")}</th></tr></thead>
              <tbody>
                {report.errors.map((r, i) => (
                  <tr key={i} data-testid="import-error"><td>{r.line}</td><td>{r.field ?? "—"}</td><td>{r.message}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
