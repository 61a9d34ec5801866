// The board's state and its pure transitions: where a dropped card lands (and which neighbours
// moveOpportunity is told), the optimistic move with its counts and sums, the rollback, and a
// live move of someone else. No React here: the component tests exercise it directly.
import { addToTotals, scaleDecimal, type Money } from "../i18n/money";

export type StageKind = "OPEN" | "WON" | "LOST";

export interface Stage {
  id: string;
  name: string;
  order: number;
  probability: number;
  kind: StageKind;
  rottingDays: number | null;
}

export interface Card {
  id: string;
  title: string;
  amount: Money;
  ownerId: string;
  status: string;
  version: number;
  idle: boolean;
  /** The card's rank in its column (strings ordered as the server orders them). */
  position: string;
  stageId: string;
  customerId: string | null;
  customerName: string | null;
  enteredStageAt: string | null;
}

export interface Column {
  stage: Stage;
  count: number;
  total: Money[];
  weighted: Money[];
  cards: Card[];
  endCursor: string | null;
  hasMore: boolean;
}

export interface BoardState {
  pipelineId: string;
  columns: Column[];
}

export interface Drop {
  cardId: string;
  toStageId: string;
  /** Index in the target column once the card is out of its old place. */
  index: number;
}

export interface MoveRequest {
  id: string;
  stageId: string;
  beforeId: string | null;
  afterId: string | null;
  expectedVersion: number;
  kind: "MOVE" | "WIN" | "LOSE" | "REOPEN";
}

interface CardSource {
  id: string;
  title: string;
  amount: Money;
  ownerId: string;
  status: string;
  version: number;
  idle: boolean;
  position: string;
  stage: { id: string };
  customer: { id: string; name: string } | null;
  stageHistory: { toStageId: string; at: string }[];
}

export function cardOf(o: CardSource): Card {
  let entered: string | null = null;
  for (const step of o.stageHistory) if (step.toStageId === o.stage.id) entered = step.at;
  return {
    id: o.id,
    title: o.title,
    amount: o.amount,
    ownerId: o.ownerId,
    status: o.status,
    version: o.version,
    idle: o.idle,
    position: o.position,
    stageId: o.stage.id,
    customerId: o.customer?.id ?? null,
    customerName: o.customer?.name ?? null,
    enteredStageAt: entered,
  };
}

export function daysInStage(card: Card, now: number = Date.now()): number | null {
  if (!card.enteredStageAt) return null;
  return Math.max(0, Math.floor((now - Date.parse(card.enteredStageAt)) / 86_400_000));
}

/** The card has sat in its stage longer than the stage's rotting days (or the server says so). */
export function isIdle(card: Card, stage: Stage, now: number = Date.now()): boolean {
  if (card.idle) return true;
  const days = daysInStage(card, now);
  return stage.kind === "OPEN" && stage.rottingDays != null && days != null && days > stage.rottingDays;
}

export function findCard(state: BoardState, cardId: string): { column: Column; index: number } | null {
  for (const column of state.columns) {
    const index = column.cards.findIndex((c) => c.id === cardId);
    if (index >= 0) return { column, index };
  }
  return null;
}

/** What to ask the server for a drop: the neighbours in the target column and the mutation. */
export function moveRequestFor(state: BoardState, drop: Drop): MoveRequest | null {
  const from = findCard(state, drop.cardId);
  const target = state.columns.find((c) => c.stage.id === drop.toStageId);
  if (!from || !target) return null;
  const others = target.cards.filter((c) => c.id !== drop.cardId);
  const index = Math.max(0, Math.min(drop.index, others.length));
  const sameColumn = from.column.stage.id === target.stage.id;
  if (sameColumn && (others[index - 1]?.id ?? null) === (from.column.cards[from.index - 1]?.id ?? null)) {
    return null; // dropped where it was
  }
  const card = from.column.cards[from.index];
  const fromKind = from.column.stage.kind;
  const toKind = target.stage.kind;
  let kind: MoveRequest["kind"] = "MOVE";
  if (toKind === "WON") kind = "WIN";
  else if (toKind === "LOST") kind = "LOSE";
  else if (fromKind !== "OPEN") kind = "REOPEN";
  if (sameColumn && toKind !== "OPEN") return null; // closed columns have no order to change
  return {
    id: card.id,
    stageId: target.stage.id,
    beforeId: others[index]?.id ?? null,
    afterId: others[index - 1]?.id ?? null,
    expectedVersion: card.version,
    kind,
  };
}

function weightOf(card: Card, stage: Stage): Money {
  return { currency: card.amount.currency, amount: scaleDecimal(card.amount.amount, stage.probability) };
}

function withoutCard(column: Column, card: Card): Column {
  return {
    ...column,
    cards: column.cards.filter((c) => c.id !== card.id),
    count: column.count - 1,
    total: addToTotals(column.total, card.amount, -1),
    weighted: addToTotals(column.weighted, weightOf(card, column.stage), -1),
  };
}

function withCard(column: Column, card: Card, index: number): Column {
  const cards = column.cards.filter((c) => c.id !== card.id);
  const placed = { ...card, stageId: column.stage.id };
  cards.splice(Math.max(0, Math.min(index, cards.length)), 0, placed);
  return {
    ...column,
    cards,
    count: column.count + 1,
    total: addToTotals(column.total, card.amount),
    weighted: addToTotals(column.weighted, weightOf(card, column.stage)),
  };
}

/** The board as it will be once the move succeeds (the optimistic update). */
export function applyDrop(state: BoardState, drop: Drop, now: string = new Date().toISOString()): BoardState {
  const from = findCard(state, drop.cardId);
  if (!from) return state;
  const card = from.column.cards[from.index];
  const sameColumn = from.column.stage.id === drop.toStageId;
  const moved: Card = sameColumn ? card : { ...card, enteredStageAt: now, idle: false };
  return {
    ...state,
    columns: state.columns.map((column) => {
      if (sameColumn && column.stage.id === drop.toStageId) {
        const cards = column.cards.filter((c) => c.id !== card.id);
        cards.splice(Math.max(0, Math.min(drop.index, cards.length)), 0, card);
        return { ...column, cards };
      }
      if (column.stage.id === from.column.stage.id) return withoutCard(column, card);
      if (column.stage.id === drop.toStageId) return withCard(column, moved, drop.index);
      return column;
    }),
  };
}

/** The server's answer replaces the optimistic card (new version, status, stage entry). */
export function confirmCard(state: BoardState, card: Card): BoardState {
  return {
    ...state,
    columns: state.columns.map((column) => ({
      ...column,
      cards: column.cards.map((c) => (c.id === card.id ? { ...card, stageId: column.stage.id } : c)),
    })),
  };
}

export interface StageChange {
  opportunityId: string;
  toStageId: string;
  fromStageId: string | null;
  status: string | null;
  changedAt: string;
}

/**
 * Someone's move, live: the card goes to the end of its new column (the event carries no
 * position; the next reload orders it exactly). Returns null when the board cannot place it
 * (a card it never loaded): the caller reloads.
 */
export function applyStageChange(state: BoardState, change: StageChange): BoardState | null {
  const found = findCard(state, change.opportunityId);
  const target = state.columns.find((c) => c.stage.id === change.toStageId);
  if (!found) return target ? null : state;
  if (found.column.stage.id === change.toStageId) return state; // already there (our own move)
  if (!target) {
    return { ...state, columns: state.columns.map((c) => (c === found.column ? withoutCard(c, found.column.cards[found.index]) : c)) };
  }
  const card = found.column.cards[found.index];
  return applyDrop(state, { cardId: card.id, toStageId: target.stage.id, index: target.cards.length }, change.changedAt);
}

/** The owners present on the board, for the owner filter. */
export function ownersOf(state: BoardState): string[] {
  const owners = new Set<string>();
  for (const column of state.columns) for (const card of column.cards) owners.add(card.ownerId);
  return [...owners].sort();
}

function byPosition(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The card as the server has it now (after someone else's move): in its column at its rank,
 * with its current version (so that this browser's next drag of it is not a needless CONFLICT).
 */
export function placeCard(state: BoardState, card: Card): BoardState {
  const target = state.columns.find((c) => c.stage.id === card.stageId);
  const found = findCard(state, card.id);
  if (!target) return found ? { ...state, columns: state.columns.map((c) => (c === found.column ? withoutCard(c, found.column.cards[found.index]) : c)) } : state;
  const others = target.cards.filter((c) => c.id !== card.id);
  let index = others.findIndex((c) => byPosition(c.position, card.position) > 0);
  if (index < 0) index = others.length;
  if (!found) return state; // never loaded: the caller reloads
  const moved = applyDrop(state, { cardId: card.id, toStageId: card.stageId, index }, card.enteredStageAt ?? undefined);
  return confirmCard(moved, card);
}
