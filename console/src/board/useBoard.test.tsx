// The board's error paths against a mocked graph: a CONFLICT rolls the optimistic move back,
// says so and reloads; another error rolls back and says what failed; success keeps the move.
import { act, renderHook, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

const calls: string[] = [];
let moveOutcome: "ok" | "conflict" | "forbidden" = "ok";

const node = (id: string, stageId: string, amount: string) => ({
  id, title: id, amount: { amount, currency: "EUR" }, ownerId: "rep-1", status: "OPEN", position: "a", version: 1,
  idle: false, lostReason: null, expectedCloseDate: null, stage: { id: stageId }, customer: { id: "c", name: "C" },
  stageHistory: [{ toStageId: stageId, at: "2026-01-01T00:00:00Z" }],
});
const column = (id: string, order: number, nodes: ReturnType<typeof node>[]) => ({
  stage: { id, name: id, order, probability: 0.5, kind: "OPEN", rottingDays: null, retired: false },
  count: nodes.length,
  totalAmount: nodes.length ? [{ amount: String(nodes.reduce((s, n) => s + Number(n.amount.amount), 0)), currency: "EUR" }] : [],
  weightedAmount: [],
  opportunities: { totalCount: nodes.length, pageInfo: { hasNextPage: false, endCursor: null }, edges: nodes.map((n) => ({ node: n })) },
});

vi.mock("../api/client", async (importOriginal) => {
  const original = await importOriginal<typeof import("../api/client")>();
  return {
    ...original,
    subscribe: () => () => {},
    onConnectionChange: (listener: (up: boolean) => void) => {
      queueMicrotask(() => listener(true));
      return () => {};
    },
    request: vi.fn(async (document: { toString(): string }) => {
      const text = document.toString();
      if (text.includes("query Board")) {
        calls.push("board");
        return { board: { pipeline: { id: "p", name: "P", version: 1 }, columns: [column("a", 1, [node("x", "a", "100")]), column("b", 2, [])] } };
      }
      if (text.includes("mutation MoveOpportunity")) {
        calls.push("move");
        if (moveOutcome === "conflict") throw new original.GraphQLRequestError("version 1 is stale", "CONFLICT", 200);
        if (moveOutcome === "forbidden") throw new original.GraphQLRequestError("not your deal", "FORBIDDEN", 200);
        return { moveOpportunity: { ...node("x", "b", "100"), version: 2 } };
      }
      throw new Error(`unexpected ${text.slice(0, 40)}`);
    }),
  };
});

const { useBoard } = await import("./useBoard");
const filter = { ownerId: null, idle: false };

async function loaded() {
  const hook = renderHook(() => useBoard("p", filter));
  await waitFor(() => expect(hook.result.current.state).not.toBeNull());
  return hook;
}

describe("useBoard", () => {
  beforeEach(() => {
    calls.length = 0;
  });

  it("keeps a successful move with the server's version", async () => {
    moveOutcome = "ok";
    const { result } = await loaded();
    await act(() => result.current.drop({ cardId: "x", toStageId: "b", index: 0 }));
    expect(result.current.state?.columns[1].cards[0]).toMatchObject({ id: "x", version: 2 });
    expect(result.current.state?.columns[0].count).toBe(0);
    expect(result.current.notice).toBeNull();
  });

  it("rolls a CONFLICT back, says so and reloads the board", async () => {
    moveOutcome = "conflict";
    const { result } = await loaded();
    await act(() => result.current.drop({ cardId: "x", toStageId: "b", index: 0 }));
    expect(result.current.notice).toEqual({ kind: "conflict", message: "version 1 is stale" });
    expect(result.current.state?.columns[0].cards.map((c) => c.id)).toEqual(["x"]);
    expect(result.current.state?.columns[1].count).toBe(0);
    await waitFor(() => expect(calls.filter((c) => c === "board")).toHaveLength(2));
  });

  it("rolls any other error back and names it", async () => {
    moveOutcome = "forbidden";
    const { result } = await loaded();
    await act(() => result.current.drop({ cardId: "x", toStageId: "b", index: 0 }));
    expect(result.current.notice).toEqual({ kind: "forbidden", message: "not your deal" });
    expect(result.current.state?.columns[0].count).toBe(1);
  });

  it("asks for the reason before a loss and sends nothing yet", async () => {
    const { result } = await loaded();
    const state = result.current.state!;
    result.current.state!.columns.push({ ...state.columns[1], stage: { ...state.columns[1].stage, id: "lost", kind: "LOST" } });
    const pending = await act(() => result.current.drop({ cardId: "x", toStageId: "lost", index: 0 }));
    expect(pending?.kind).toBe("LOSE");
    expect(calls).not.toContain("move");
  });
});
