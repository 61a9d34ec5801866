// Loading the board (every column, page by page), the moves with their optimistic update and
// rollback, and the live stage changes of everyone else.
import { useCallback, useEffect, useRef, useState } from "react";
import { GraphQLRequestError, request, subscribe, onConnectionChange } from "../api/client";
import {
  BoardDocument,
  LoseOpportunityDocument,
  MoveOpportunityDocument,
  OpportunityCardDocument,
  ReopenOpportunityDocument,
  StageChangesDocument,
  WinOpportunityDocument,
  type BoardQuery,
} from "../api/generated";
import { applyDrop, applyStageChange, cardOf, confirmCard, moveRequestFor, placeCard, type BoardState, type Column, type Drop, type MoveRequest } from "./logic";

// Cards per column and page: the gateway's cost limit (25,000) allows about 40 cards of each of
// the columns with their stage history in one request; more load as a column scrolls.
export const PAGE_SIZE = 40;

export interface BoardFilterState {
  ownerId: string | null;
  idle: boolean;
}

type ColumnNode = NonNullable<BoardQuery["board"]>["columns"][number];

function columnOf(node: ColumnNode): Column {
  return {
    stage: node.stage,
    count: node.count,
    total: node.totalAmount,
    weighted: node.weightedAmount,
    cards: node.opportunities.edges.map((e) => cardOf(e.node)),
    endCursor: node.opportunities.pageInfo.endCursor,
    hasMore: node.opportunities.pageInfo.hasNextPage,
  };
}

function filterOf(filter: BoardFilterState) {
  return { ownerId: filter.ownerId, idle: filter.idle ? true : null };
}

export async function loadBoard(pipelineId: string, filter: BoardFilterState): Promise<BoardState> {
  const data = await request(BoardDocument, { pipelineId, filter: filterOf(filter), first: PAGE_SIZE });
  if (!data.board) throw new GraphQLRequestError("no such pipeline", "NOT_FOUND", 200);
  return { pipelineId, columns: data.board.columns.map(columnOf) };
}

export type Notice = { kind: "conflict" | "error" | "forbidden"; message: string } | null;

export function useBoard(pipelineId: string | null, filter: BoardFilterState) {
  const [state, setState] = useState<BoardState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [live, setLive] = useState(false);
  const stateRef = useRef<BoardState | null>(null);
  stateRef.current = state;
  const generation = useRef(0);
  const reloadTimer = useRef<number | null>(null);

  const reload = useCallback(async (before: Promise<void> = Promise.resolve()) => {
    if (!pipelineId) return;
    const mine = ++generation.current;
    try {
      const [next] = await Promise.all([loadBoard(pipelineId, filter), before]);
      if (mine === generation.current) {
        setState(next);
        setError(null);
      }
    } catch (e) {
      if (mine === generation.current) setError(String((e as Error).message ?? e));
    }
  }, [pipelineId, filter]);

  const reloadSoon = useCallback(() => {
    if (reloadTimer.current !== null) window.clearTimeout(reloadTimer.current);
    reloadTimer.current = window.setTimeout(() => void reload(), 400);
  }, [reload]);

  // The board and the socket start together; the cards show once both are there (the socket
  // waited for at most 2 s), so that a move seen on screen is never missed by the live feed.
  // A reconnect reloads (events sent while the socket was down are gone).
  useEffect(() => {
    if (!pipelineId) return;
    setState(null);
    let connectedOnce = false;
    let socketReady: () => void = () => {};
    const socket = new Promise<void>((resolve) => {
      socketReady = resolve;
      window.setTimeout(resolve, 2000);
    });
    const stopWatching = onConnectionChange((up) => {
      setLive(up);
      if (up && connectedOnce) reloadSoon();
      if (up) {
        connectedOnce = true;
        socketReady();
      }
    });
    const unsubscribe = subscribe(StageChangesDocument, { pipelineId }, (data) => {
      const event = data.stageChanges;
      const current = stateRef.current;
      if (!current) return;
      const next = applyStageChange(current, {
        opportunityId: event.opportunityId,
        toStageId: event.toStageId,
        fromStageId: event.fromStageId,
        status: event.status,
        changedAt: event.changedAt,
      });
      if (next === null) {
        reloadSoon();
        return;
      }
      if (next !== current) setState(next);
      // The event has no rank nor version: the card itself is fetched to place it exactly.
      request(OpportunityCardDocument, { id: event.opportunityId }).then(
        (answer) => {
          if (answer.opportunity && stateRef.current) setState(placeCard(stateRef.current, cardOf(answer.opportunity)));
        },
        () => reloadSoon(),
      );
    });
    void reload(socket);
    return () => {
      unsubscribe();
      stopWatching();
      generation.current++;
    };
  }, [pipelineId, reload, reloadSoon]);

  const loadMore = useCallback(
    async (stageId: string) => {
      const current = stateRef.current;
      const column = current?.columns.find((c) => c.stage.id === stageId);
      if (!current || !column || !column.hasMore || !pipelineId) return;
      const data = await request(BoardDocument, { pipelineId, filter: filterOf(filter), first: PAGE_SIZE, after: column.endCursor });
      const node = data.board?.columns.find((c) => c.stage.id === stageId);
      if (!node) return;
      const page = columnOf(node);
      setState((s) =>
        s && {
          ...s,
          columns: s.columns.map((c) => {
            if (c.stage.id !== stageId) return c;
            const known = new Set(c.cards.map((card) => card.id));
            return { ...c, cards: [...c.cards, ...page.cards.filter((card) => !known.has(card.id))], endCursor: page.endCursor, hasMore: page.hasMore };
          }),
        },
      );
    },
    [pipelineId, filter],
  );

  /** A drop: optimistic at once; the server's card on success; the old board back on error. */
  const drop = useCallback(
    async (target: Drop, lostReason?: string): Promise<MoveRequest | null> => {
      const before = stateRef.current;
      if (!before) return null;
      const move = moveRequestFor(before, target);
      if (!move) return null;
      if (move.kind === "LOSE" && !lostReason) return move; // the caller asks for the reason
      const optimistic = applyDrop(before, target);
      stateRef.current = optimistic;
      setState(optimistic);
      setNotice(null);
      try {
        const base = { id: move.id, expectedVersion: move.expectedVersion };
        const answer =
          move.kind === "WIN"
            ? (await request(WinOpportunityDocument, base)).winOpportunity
            : move.kind === "LOSE"
              ? (await request(LoseOpportunityDocument, { ...base, reason: lostReason ?? "" })).loseOpportunity
              : move.kind === "REOPEN"
                ? (await request(ReopenOpportunityDocument, { ...base, stageId: move.stageId })).reopenOpportunity
                : (await request(MoveOpportunityDocument, { ...base, stageId: move.stageId, beforeId: move.beforeId, afterId: move.afterId }))
                    .moveOpportunity;
        setState((s) => s && confirmCard(s, cardOf(answer)));
      } catch (e) {
        // Rolled back to the board before the drop, whatever else arrived meanwhile is reloaded.
        setState(before);
        stateRef.current = before;
        const err = e as GraphQLRequestError;
        if (err.code === "CONFLICT") {
          setNotice({ kind: "conflict", message: err.message });
          void reload();
        } else if (err.code === "FORBIDDEN") {
          setNotice({ kind: "forbidden", message: err.message });
        } else {
          setNotice({ kind: "error", message: err.message });
        }
      }
      return null;
    },
    [reload],
  );

  return { state, error, notice, setNotice, live, reload, loadMore, drop };
}
