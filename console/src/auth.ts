// Who is signed in. A token arrives three ways: the development sign-in page (POST /dev/token,
// only outside production), `/#token=<jwt>` (a fragment is never sent to a server, so the token
// never reaches a log; it is removed from the address bar at once), or pasted (a bearer token
// of the identity provider in production). It is kept for the tab only (sessionStorage).
const KEY = "crm.console.token";

export interface Identity {
  token: string;
  userId: string;
  name: string;
  roles: string[];
  team: string | null;
  expiresAt: number | null;
}

function base64UrlDecode(part: string): string {
  const padded = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims the console shows (the server verifies the token; the console only reads it). */
export function identityOf(token: string): Identity | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1])) as Record<string, unknown>;
    const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
    const expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : null;
    if (expiresAt !== null && expiresAt < Date.now()) return null;
    const userId = String(claims.sub ?? "");
    return {
      token,
      userId,
      name: typeof claims.name === "string" ? claims.name : userId,
      roles,
      team: typeof claims.team === "string" ? claims.team : null,
      expiresAt,
    };
  } catch {
    return null;
  }
}

/** Takes `#token=...` out of the address bar (and keeps it), else the stored token. */
export function initialIdentity(): Identity | null {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (match) {
    const token = decodeURIComponent(match[1]);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    const identity = identityOf(token);
    if (identity) {
      sessionStorage.setItem(KEY, token);
      return identity;
    }
  }
  const stored = sessionStorage.getItem(KEY);
  return stored ? identityOf(stored) : null;
}

export function remember(identity: Identity | null): void {
  if (identity) sessionStorage.setItem(KEY, identity.token);
  else sessionStorage.removeItem(KEY);
}

export function isManager(identity: Identity | null): boolean {
  return !!identity && identity.roles.some((r) => r === "manager" || r === "admin");
}

/** The development sign-in: the gateway mints a token for a demo user (404 in production). */
export async function devSignIn(user: string, role: string): Promise<Identity> {
  const response = await fetch("/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user, role }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const { token } = (await response.json()) as { token: string };
  const identity = identityOf(token);
  if (!identity) throw new Error("the token could not be read");
  return identity;
}
