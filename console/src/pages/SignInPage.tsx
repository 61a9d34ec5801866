import { useState } from "react";
import { devSignIn, identityOf, type Identity } from "../auth";
import { useI18n, type Language } from "../i18n";

// The demo users of `make demo` (scripts/demo_data.py owns their customers and deals).
const DEMO_USERS = [
  { user: "rep-1", role: "rep" },
  { user: "rep-2", role: "rep" },
  { user: "manager-1", role: "manager" },
  { user: "admin-1", role: "admin" },
];

export function SignInPage({ onSignedIn }: { onSignedIn: (identity: Identity) => void }) {
  const { t, language, setLanguage } = useI18n();
  const [user, setUser] = useState("manager-1");
  const [role, setRole] = useState("manager");
  const [pasted, setPasted] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="signin">
      <div className="signin-box">
        <h1>{t("appName")}</h1>
        <select value={language} onChange={(e) => setLanguage(e.target.value as Language)} aria-label={t("language")}>
          <option value="en">English</option>
          <option value="zh">中文</option>
        </select>
        <h2>{t("signInTitle")}</h2>
        <p className="muted">{t("signInDevHint")}</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            devSignIn(user, role).then(onSignedIn, (err: Error) => setError(t("signInFailed", { error: err.message })));
          }}
        >
          <label>
            {t("signInUser")}
            <select
              value={user}
              data-testid="signin-user"
              onChange={(e) => {
                setUser(e.target.value);
                setRole(DEMO_USERS.find((d) => d.user === e.target.value)?.role ?? role);
              }}
            >
              {DEMO_USERS.map((d) => (
                <option key={d.user} value={d.user}>
                  {d.user}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("signInRole")}
            <select value={role} onChange={(e) => setRole(e.target.value)} data-testid="signin-role">
              <option value="rep">{t("roleRep")}</option>
              <option value="manager">{t("roleManager")}</option>
              <option value="admin">{t("roleAdmin")}</option>
            </select>
          </label>
          <button className="primary" type="submit" data-testid="signin-submit">
            {t("signInButton")}
          </button>
        </form>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const identity = identityOf(pasted.trim().replace(/^Bearer\s+/i, ""));
            if (identity) onSignedIn(identity);
            else setError(t("signInFailed", { error: "token" }));
          }}
        >
          <label>
            {t("signInPaste")}
            <textarea value={pasted} onChange={(e) => setPasted(e.target.value)} rows={3} aria-label={t("signInToken")} />
          </label>
          <button type="submit">{t("signInUseToken")}</button>
        </form>
        {error && (
          <p className="notice notice-error" role="alert">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}
