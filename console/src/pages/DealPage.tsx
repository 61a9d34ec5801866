export default function DealPage() {
  return <div className="muted">…</div>;
}
