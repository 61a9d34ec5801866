import type { Identity } from "../auth";
export default function ReportsPage({ identity }: { identity: Identity }) {
  return <div className="muted">{identity.userId}</div>;
}
