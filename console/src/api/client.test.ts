import { describe, expect, it, vi } from "vitest";
import { configureClient, GraphQLRequestError, request, unwrap } from "./client";
import { PipelinesDocument } from "./generated";

function answer(status: number, body: unknown): typeof fetch {
  return vi.fn(async () => new Response(typeof body === "string" ? body : JSON.stringify(body), { status })) as unknown as typeof fetch;
}

describe("the error paths of a request", () => {
  it("keeps the graph's error code (CONFLICT, FORBIDDEN)", async () => {
    const conflict = answer(200, { data: null, errors: [{ message: "stale version 3", extensions: { code: "CONFLICT" } }] });
    await expect(request(PipelinesDocument, {}, conflict)).rejects.toMatchObject({ code: "CONFLICT", message: "stale version 3" });
    expect(() => unwrap({ errors: [{ message: "no", extensions: { code: "FORBIDDEN" } }] }, 200)).toThrow(GraphQLRequestError);
  });

  it("keeps partial data (a subgraph down) and throws when there is none", () => {
    const partial = { data: { board: { columns: [] } }, errors: [{ message: "customers down", extensions: { code: "SUBGRAPH_UNAVAILABLE" } }] };
    expect(unwrap(partial, 200)).toEqual({ board: { columns: [] } });
    expect(() => unwrap({ data: { board: null }, errors: [{ message: "gone", extensions: { code: "NOT_FOUND" } }] }, 200)).toThrow("gone");
  });

  it("says NETWORK when the gateway cannot be reached", async () => {
    const down = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch;
    await expect(request(PipelinesDocument, {}, down)).rejects.toMatchObject({ code: "NETWORK" });
  });

  it("signs out on UNAUTHENTICATED, also when the answer is not JSON", async () => {
    const signedOut = vi.fn();
    configureClient(() => "expired", signedOut);
    await expect(request(PipelinesDocument, {}, answer(401, "Unauthorized"))).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    expect(signedOut).toHaveBeenCalledOnce();
  });

  it("sends the bearer token and the operation", async () => {
    configureClient(() => "tok", () => {});
    const ok = answer(200, { data: { pipelines: [] } });
    await expect(request(PipelinesDocument, {}, ok)).resolves.toEqual({ pipelines: [] });
    const [, init] = (ok as unknown as { mock: { calls: [string, RequestInit][] } }).mock.calls[0];
    expect((init.headers as Record<string, string>).authorization).toBe("Bearer tok");
    expect(JSON.parse(init.body as string).query).toContain("query Pipelines");
  });
});
