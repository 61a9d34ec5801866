export default function Customer360Page() {
  return <div className="muted">…</div>;
}
