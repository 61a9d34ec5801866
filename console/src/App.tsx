import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router-dom";
import { configureClient } from "./api/client";
import { initialIdentity, isManager, remember, type Identity } from "./auth";
import { useI18n, type Language } from "./i18n";
import { BoardPage } from "./pages/BoardPage";
import { SignInPage } from "./pages/SignInPage";

// Screens past the first one load on demand: the board (the first screen) stays small.
const DealPage = lazy(() => import("./pages/DealPage"));
const CustomersPage = lazy(() => import("./pages/CustomersPage"));
const Customer360Page = lazy(() => import("./pages/Customer360Page"));
const ReportsPage = lazy(() => import("./pages/ReportsPage"));
const SettingsPage = lazy(() => import("./pages/SettingsPage"));

export function App() {
  const { t, language, setLanguage } = useI18n();
  const [identity, setIdentity] = useState<Identity | null>(() => initialIdentity());
  useMemo(() => configureClient(() => identity?.token ?? null, () => setIdentity(null)), [identity]);
  useEffect(() => remember(identity), [identity]);

  if (!identity) return <SignInPage onSignedIn={setIdentity} />;
  const manager = isManager(identity);
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">{t("appName")}</span>
        <nav>
          <NavLink to="/board">{t("navBoard")}</NavLink>
          <NavLink to="/customers">{t("navCustomers")}</NavLink>
          <NavLink to="/reports">{t("navReports")}</NavLink>
          {manager && <NavLink to="/settings">{t("navSettings")}</NavLink>}
        </nav>
        <span className="spacer" />
        <label className="language">
          <span className="sr-only">{t("language")}</span>
          <select value={language} onChange={(e) => setLanguage(e.target.value as Language)} data-testid="language" aria-label={t("language")}>
            <option value="en">English</option>
            <option value="zh">中文</option>
          </select>
        </label>
        <span className="who" data-testid="who">
          {identity.name} · {identity.roles.join(", ")}
        </span>
        <button className="link" onClick={() => setIdentity(null)}>
          {t("signOut")}
        </button>
      </header>
      <main>
        <Suspense fallback={<div className="muted">{t("loading")}</div>}>
          <Routes>
            <Route path="/" element={<Navigate to="/board" replace />} />
            <Route path="/board" element={<BoardPage identity={identity} />} />
            <Route path="/board/:pipelineId" element={<BoardPage identity={identity} />} />
            <Route path="/deals/:id" element={<DealPage />} />
            <Route path="/customers" element={<CustomersPage />} />
            <Route path="/customers/:id" element={<Customer360Page />} />
            <Route path="/reports" element={<ReportsPage identity={identity} />} />
            <Route path="/settings" element={manager ? <SettingsPage /> : <Navigate to="/board" replace />} />
            <Route path="*" element={<Navigate to="/board" replace />} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
