import { describe, expect, it } from "vitest";
import { applyDrop, applyStageChange, confirmCard, placeCard, daysInStage, isIdle, moveRequestFor, type BoardState, type Card, type Stage } from "./logic";

const stage = (id: string, order: number, probability: number, kind: Stage["kind"] = "OPEN", rottingDays: number | null = null): Stage => ({
  id, name: id, order, probability, kind, rottingDays,
});
const card = (id: string, stageId: string, amount: string, currency = "EUR", version = 1): Card => ({
  id, title: id, amount: { amount, currency }, ownerId: "rep-1", status: "OPEN", version, idle: false, position: id,
  stageId, customerId: "c", customerName: "C", enteredStageAt: "2026-01-01T00:00:00Z",
});

function board(): BoardState {
  return {
    pipelineId: "p",
    columns: [
      { stage: stage("a", 1, 0.2), count: 3, total: [{ amount: "1750", currency: "EUR" }], weighted: [{ amount: "350", currency: "EUR" }], cards: [card("x", "a", "1000"), card("y", "a", "500"), card("z", "a", "250")], endCursor: null, hasMore: false },
      { stage: stage("b", 2, 0.5), count: 1, total: [{ amount: "70", currency: "USD" }], weighted: [{ amount: "35", currency: "USD" }], cards: [card("u", "b", "70", "USD")], endCursor: null, hasMore: false },
      { stage: stage("won", 3, 1, "WON"), count: 0, total: [], weighted: [], cards: [], endCursor: null, hasMore: false },
      { stage: stage("lost", 4, 0, "LOST"), count: 0, total: [], weighted: [], cards: [], endCursor: null, hasMore: false },
    ],
  };
}

describe("moveRequestFor", () => {
  it("names the neighbours of the drop in another column", () => {
    expect(moveRequestFor(board(), { cardId: "x", toStageId: "b", index: 0 })).toEqual({
      id: "x", stageId: "b", beforeId: "u", afterId: null, expectedVersion: 1, kind: "MOVE",
    });
    expect(moveRequestFor(board(), { cardId: "x", toStageId: "b", index: 1 })).toMatchObject({ beforeId: null, afterId: "u" });
  });

  it("reorders within a column, and a drop in place asks nothing", () => {
    expect(moveRequestFor(board(), { cardId: "x", toStageId: "a", index: 2 })).toMatchObject({ stageId: "a", beforeId: null, afterId: "z" });
    expect(moveRequestFor(board(), { cardId: "z", toStageId: "a", index: 0 })).toMatchObject({ beforeId: "x", afterId: null });
    expect(moveRequestFor(board(), { cardId: "y", toStageId: "a", index: 1 })).toBeNull();
  });

  it("wins on Won, loses on Lost, reopens out of a closed column", () => {
    expect(moveRequestFor(board(), { cardId: "x", toStageId: "won", index: 0 })?.kind).toBe("WIN");
    expect(moveRequestFor(board(), { cardId: "x", toStageId: "lost", index: 0 })?.kind).toBe("LOSE");
    const closed = applyDrop(board(), { cardId: "x", toStageId: "won", index: 0 });
    expect(moveRequestFor(closed, { cardId: "x", toStageId: "a", index: 0 })?.kind).toBe("REOPEN");
    expect(moveRequestFor(closed, { cardId: "x", toStageId: "won", index: 0 })).toBeNull();
  });
});

describe("applyDrop (the optimistic update)", () => {
  it("moves the card with its count, total and weighted amount per currency", () => {
    const next = applyDrop(board(), { cardId: "x", toStageId: "b", index: 0 }, "2026-02-01T00:00:00Z");
    const [a, b] = next.columns;
    expect(a.cards.map((c) => c.id)).toEqual(["y", "z"]);
    expect(a.count).toBe(2);
    expect(a.total).toEqual([{ amount: "750", currency: "EUR" }]);
    expect(a.weighted).toEqual([{ amount: "150", currency: "EUR" }]);
    expect(b.cards.map((c) => c.id)).toEqual(["x", "u"]);
    expect(b.count).toBe(2);
    expect(b.total).toEqual([{ amount: "70", currency: "USD" }, { amount: "1000", currency: "EUR" }]);
    expect(b.weighted).toContainEqual({ amount: "500", currency: "EUR" });
    expect(b.cards[0]).toMatchObject({ stageId: "b", enteredStageAt: "2026-02-01T00:00:00Z" });
  });

  it("leaves the board it was given untouched (the rollback is the old board)", () => {
    const before = board();
    const copy = JSON.parse(JSON.stringify(before));
    applyDrop(before, { cardId: "x", toStageId: "b", index: 0 });
    expect(before).toEqual(copy);
  });

  it("reorders within a column without changing the sums", () => {
    const next = applyDrop(board(), { cardId: "x", toStageId: "a", index: 2 });
    expect(next.columns[0].cards.map((c) => c.id)).toEqual(["y", "z", "x"]);
    expect(next.columns[0].count).toBe(3);
    expect(next.columns[0].total).toEqual(board().columns[0].total);
  });

  it("takes the server's card once confirmed", () => {
    const next = confirmCard(applyDrop(board(), { cardId: "x", toStageId: "b", index: 0 }), { ...card("x", "b", "1000"), version: 2 });
    expect(next.columns[1].cards[0].version).toBe(2);
  });
});

describe("applyStageChange (someone else's move, live)", () => {
  it("moves a known card to the end of its new column", () => {
    const next = applyStageChange(board(), { opportunityId: "x", toStageId: "b", fromStageId: "a", status: "OPEN", changedAt: "2026-02-01T00:00:00Z" });
    expect(next?.columns[1].cards.map((c) => c.id)).toEqual(["u", "x"]);
    expect(next?.columns[0].count).toBe(2);
  });

  it("ignores our own move that already happened, and asks for a reload for an unknown card", () => {
    const state = board();
    expect(applyStageChange(state, { opportunityId: "u", toStageId: "b", fromStageId: "a", status: "OPEN", changedAt: "x" })).toBe(state);
    expect(applyStageChange(state, { opportunityId: "new", toStageId: "a", fromStageId: null, status: "OPEN", changedAt: "x" })).toBeNull();
  });
});

describe("days in stage and the idle badge", () => {
  it("counts whole days since the card entered its stage", () => {
    const c = card("x", "a", "1");
    expect(daysInStage(c, Date.parse("2026-01-11T12:00:00Z"))).toBe(10);
    expect(daysInStage({ ...c, enteredStageAt: null })).toBeNull();
  });

  it("is idle past the stage's rotting days, or when the server says so", () => {
    const c = card("x", "a", "1");
    expect(isIdle(c, stage("a", 1, 0.2, "OPEN", 5), Date.parse("2026-01-11T00:00:00Z"))).toBe(true);
    expect(isIdle(c, stage("a", 1, 0.2, "OPEN", 30), Date.parse("2026-01-11T00:00:00Z"))).toBe(false);
    expect(isIdle({ ...c, idle: true }, stage("a", 1, 0.2), Date.parse("2026-01-02T00:00:00Z"))).toBe(true);
  });
});

describe("placeCard (the server's card after a live move)", () => {
  it("puts it at its rank with its new version, the sums following", () => {
    const server = { ...card("x", "b", "1000", "EUR", 5), position: "v" }; // after "u"
    const next = placeCard(board(), server);
    expect(next.columns[1].cards.map((c) => [c.id, c.version])).toEqual([["u", 1], ["x", 5]]);
    expect(next.columns[0].count).toBe(2);
    const first = placeCard(board(), { ...server, position: "a" });
    expect(first.columns[1].cards.map((c) => c.id)).toEqual(["x", "u"]);
  });

  it("reorders within a column", () => {
    const next = placeCard(board(), { ...card("x", "a", "1000", "EUR", 2), position: "zz" });
    expect(next.columns[0].cards.map((c) => c.id)).toEqual(["y", "z", "x"]);
    expect(next.columns[0].count).toBe(3);
  });
});
