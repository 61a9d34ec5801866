export default function CustomersPage() {
  return <div className="muted">…</div>;
}
