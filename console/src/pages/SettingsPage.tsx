export default function SettingsPage() {
  return <div className="muted">…</div>;
}
