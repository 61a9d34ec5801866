// The board: one column per open stage plus Won and Lost, each with its count, total and
// weighted amount per currency; cards dragged between and within columns (pointer, touch or
// keyboard: Space picks a card up, the arrows move it, Space drops it). Columns are virtualised:
// only the cards in view are in the page, so 2,000 deals render and drag smoothly.
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  TouchSensor,
  closestCorners,
  pointerWithin,
  useDroppable,
  useSensor,
  useSensors,
  type CollisionDetection,
  type DragEndEvent,
  type DragStartEvent,
} from "@dnd-kit/core";
import { SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { useI18n } from "../i18n";
import { daysInStage, findCard, isIdle, ownersOf, type BoardState, type Card, type Column, type Drop, type Stage } from "./logic";
import { useBoard, type BoardFilterState } from "./useBoard";

const CARD_HEIGHT = 104;
// Up to this many cards a column renders them all (cheap, and every card is in the page for
// find-in-page and tests); longer columns render only what is in view.
const RENDER_ALL_BELOW = 60;
const COLUMN_PREFIX = "column:";

const DealCard = memo(function DealCard({ card, stage, overlay = false }: { card: Card; stage: Stage; overlay?: boolean }) {
  const { t, money } = useI18n();
  const days = daysInStage(card);
  const idle = isIdle(card, stage);
  return (
    <div className={`card${idle ? " card-idle" : ""}${overlay ? " card-overlay" : ""}`}>
      <div className="card-head">
        <span className="card-title" title={card.title}>
          {card.title}
        </span>
        {!overlay && (
          <Link
            className="card-open"
            to={`/deals/${card.id}`}
            aria-label={`${t("open")} ${card.title}`}
            onPointerDown={(e) => e.stopPropagation()}
            onKeyDown={(e) => e.stopPropagation()}
          >
            ↗
          </Link>
        )}
      </div>
      <div className="card-customer">
        {card.customerId && !overlay ? (
          <Link to={`/customers/${card.customerId}`} onPointerDown={(e) => e.stopPropagation()} onKeyDown={(e) => e.stopPropagation()}>
            {card.customerName ?? card.customerId}
          </Link>
        ) : (
          card.customerName ?? "—"
        )}
      </div>
      <div className="card-foot">
        <strong>{money(card.amount)}</strong>
        <span className="card-owner">{card.ownerId}</span>
      </div>
      <div className="card-foot muted">
        <span>{days === null ? "" : t("daysInStage", { days })}</span>
        {idle && <span className="badge badge-idle">{t("idle")}</span>}
      </div>
    </div>
  );
});

function SortableCard({ card, stage, top }: { card: Card; stage: Stage; top: number }) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({
    id: card.id,
    data: { stageId: stage.id },
  });
  return (
    <div
      ref={setNodeRef}
      data-testid={`deal-card-${card.id}`}
      data-card-id={card.id}
      data-stage-id={stage.id}
      className="card-slot"
      style={{
        position: "absolute",
        top,
        left: 0,
        right: 0,
        height: CARD_HEIGHT - 8,
        transform: CSS.Translate.toString(transform),
        transition,
        opacity: isDragging ? 0.35 : 1,
      }}
      {...attributes}
      {...listeners}
      aria-roledescription="deal card"
    >
      <DealCard card={card} stage={stage} />
    </div>
  );
}

function BoardColumn({ column, onNearEnd }: { column: Column; onNearEnd: (stageId: string) => void }) {
  const { t, totals } = useI18n();
  const scrollRef = useRef<HTMLDivElement>(null);
  const { setNodeRef, isOver } = useDroppable({ id: COLUMN_PREFIX + column.stage.id, data: { stageId: column.stage.id } });
  const virtualizer = useVirtualizer({
    count: column.cards.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => CARD_HEIGHT,
    overscan: column.cards.length <= RENDER_ALL_BELOW ? RENDER_ALL_BELOW : 6,
  });
  const items = virtualizer.getVirtualItems();
  // The next page is fetched when the user scrolls near the end of what is loaded (the cards
  // in view, not the ones rendered ahead of it).
  const lastVisible = virtualizer.range?.endIndex ?? -1;
  useEffect(() => {
    if (column.hasMore && lastVisible >= 0 && lastVisible >= column.cards.length - 10) onNearEnd(column.stage.id);
  }, [lastVisible, column.hasMore, column.cards.length, column.stage.id, onNearEnd]);
  const ids = useMemo(() => column.cards.map((c) => c.id), [column.cards]);
  return (
    <section
      ref={setNodeRef}
      className={`column column-${column.stage.kind.toLowerCase()}${isOver ? " column-over" : ""}`}
      data-testid={`board-column-${column.stage.id}`}
      data-column-id={column.stage.id}
      aria-label={column.stage.name}
    >
      <header className="column-head">
        <div className="column-title">
          <h2>{column.stage.name}</h2>
          <span className="column-count" data-testid={`column-count-${column.stage.id}`} title={t("count")}>
            {column.count}
          </span>
        </div>
        <div className="column-sums">
          <span title={t("total")}>{totals(column.total)}</span>
          {column.stage.kind === "OPEN" && (
            <span className="muted" title={t("weighted")}>
              {t("weighted")} {totals(column.weighted)} · {Math.round(column.stage.probability * 100)}%
            </span>
          )}
        </div>
      </header>
      <div className="column-body" ref={scrollRef}>
        <SortableContext id={column.stage.id} items={ids} strategy={verticalListSortingStrategy}>
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {items.map((item) => {
              const card = column.cards[item.index];
              return <SortableCard key={card.id} card={card} stage={column.stage} top={item.start} />;
            })}
          </div>
        </SortableContext>
        {column.hasMore && <div className="muted column-more">{t("loading")}</div>}
      </div>
    </section>
  );
}

/** The card and column under a point (pointer drops: exact even when the drag was one step). */
function dropAt(state: BoardState, x: number, y: number, cardId: string): Drop | null {
  for (const element of document.elementsFromPoint(x, y)) {
    const holder = (element as HTMLElement).closest<HTMLElement>("[data-card-id], [data-column-id]");
    if (!holder) continue;
    const overCard = holder.dataset.cardId;
    if (overCard && overCard !== cardId) {
      const found = findCard(state, overCard);
      if (!found) continue;
      // Its index: before that card in another column; in its own column, that card's place
      // (moving down lands below it, moving up above it).
      return { cardId, toStageId: found.column.stage.id, index: found.index };
    }
    if (overCard === cardId) continue;
    const columnId = holder.dataset.columnId;
    if (columnId) {
      const column = state.columns.find((c) => c.stage.id === columnId);
      if (column) return { cardId, toStageId: columnId, index: column.cards.filter((c) => c.id !== cardId).length };
    }
  }
  return null;
}

function dropOf(state: BoardState, event: DragEndEvent): Drop | null {
  const cardId = String(event.active.id);
  const over = event.over;
  if (!over) return null;
  const overId = String(over.id);
  if (overId.startsWith(COLUMN_PREFIX)) {
    const stageId = overId.slice(COLUMN_PREFIX.length);
    const column = state.columns.find((c) => c.stage.id === stageId);
    return column ? { cardId, toStageId: stageId, index: column.cards.filter((c) => c.id !== cardId).length } : null;
  }
  const found = findCard(state, overId);
  if (!found) return null;
  return { cardId, toStageId: found.column.stage.id, index: found.index };
}

const collisions: CollisionDetection = (args) => {
  const within = pointerWithin(args);
  return within.length > 0 ? within : closestCorners(args);
};

export function BoardView({ pipelineId, canSeeAll }: { pipelineId: string; canSeeAll: boolean }) {
  const { t } = useI18n();
  const [filter, setFilter] = useState<BoardFilterState>({ ownerId: null, idle: false });
  const { state, error, notice, setNotice, live, reload, loadMore, drop } = useBoard(pipelineId, filter);
  const [active, setActive] = useState<Card | null>(null);
  const [losing, setLosing] = useState<{ drop: Drop; title: string } | null>(null);
  const [reason, setReason] = useState("");
  const pointer = useRef<{ x: number; y: number } | null>(null);
  const owners = useMemo(() => (state ? ownersOf(state) : []), [state]);
  const knownOwners = useRef<Set<string>>(new Set());
  owners.forEach((o) => knownOwners.current.add(o));

  const sensors = useSensors(
    useSensor(PointerSensor),
    useSensor(TouchSensor, { activationConstraint: { delay: 200, tolerance: 6 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );

  useEffect(() => {
    const track = (e: PointerEvent) => (pointer.current = { x: e.clientX, y: e.clientY });
    window.addEventListener("pointermove", track, true);
    window.addEventListener("pointerup", track, true);
    return () => {
      window.removeEventListener("pointermove", track, true);
      window.removeEventListener("pointerup", track, true);
    };
  }, []);

  if (error && !state) {
    return (
      <div className="notice notice-error" role="alert">
        {t("error", { error })} <button onClick={() => void reload()}>{t("retry")}</button>
      </div>
    );
  }
  if (!state) return <div className="muted">{t("loading")}</div>;

  const onDragStart = (event: DragStartEvent) => {
    const found = findCard(state, String(event.active.id));
    setActive(found ? found.column.cards[found.index] : null);
  };

  const onDragEnd = (event: DragEndEvent) => {
    setActive(null);
    const byPointer = event.activatorEvent instanceof PointerEvent || event.activatorEvent instanceof MouseEvent;
    const target =
      (byPointer && pointer.current ? dropAt(state, pointer.current.x, pointer.current.y, String(event.active.id)) : null) ??
      dropOf(state, event);
    if (!target) return;
    const toColumn = state.columns.find((c) => c.stage.id === target.toStageId);
    const from = findCard(state, target.cardId);
    if (toColumn?.stage.kind === "LOST" && from && from.column.stage.kind !== "LOST") {
      setReason("");
      setLosing({ drop: target, title: from.column.cards[from.index].title });
      return;
    }
    void drop(target);
  };

  const activeStage = active ? state.columns.find((c) => c.stage.id === active.stageId)?.stage : undefined;
  // What a screen reader says while a card is dragged, in the console's language.
  const nameOf = (id: string | number | undefined) => {
    if (id === undefined) return "—";
    const key = String(id);
    if (key.startsWith(COLUMN_PREFIX)) return state.columns.find((c) => c.stage.id === key.slice(COLUMN_PREFIX.length))?.stage.name ?? key;
    const found = findCard(state, key);
    return found ? found.column.cards[found.index].title : key;
  };
  const accessibility = {
    screenReaderInstructions: { draggable: t("dragInstructions") },
    announcements: {
      onDragStart: ({ active: a }: { active: { id: string | number } }) => t("dragStart", { title: nameOf(a.id) }),
      onDragOver: ({ active: a, over }: { active: { id: string | number }; over: { id: string | number } | null }) =>
        t("dragOver", { title: nameOf(a.id), target: nameOf(over?.id) }),
      onDragEnd: ({ active: a, over }: { active: { id: string | number }; over: { id: string | number } | null }) =>
        t("dragEnd", { title: nameOf(a.id), target: nameOf(over?.id) }),
      onDragCancel: ({ active: a }: { active: { id: string | number } }) => t("dragCancel", { title: nameOf(a.id) }),
    },
  };

  return (
    <div className="board-wrap">
      <div className="toolbar">
        {canSeeAll && (
          <label>
            {t("filterOwner")}{" "}
            <select
              value={filter.ownerId ?? ""}
              onChange={(e) => setFilter((f) => ({ ...f, ownerId: e.target.value || null }))}
              data-testid="filter-owner"
            >
              <option value="">{t("filterAllOwners")}</option>
              {[...knownOwners.current].sort().map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          <input type="checkbox" checked={filter.idle} onChange={(e) => setFilter((f) => ({ ...f, idle: e.target.checked }))} data-testid="filter-idle" />{" "}
          {t("filterIdleOnly")}
        </label>
        <span className={`badge ${live ? "badge-live" : "badge-offline"}`} data-testid="live-status">
          {live ? t("live") : t("offline")}
        </span>
      </div>
      {notice && (
        <div className={`notice notice-${notice.kind}`} role="alert" data-testid="board-notice">
          {notice.kind === "conflict" ? t("conflict") : notice.kind === "forbidden" ? t("forbidden", { error: notice.message }) : t("moveFailed", { error: notice.message })}
          <button className="link" onClick={() => setNotice(null)} aria-label={t("cancel")}>
            ×
          </button>
        </div>
      )}
      <DndContext accessibility={accessibility} sensors={sensors} collisionDetection={collisions} onDragStart={onDragStart} onDragEnd={onDragEnd} onDragCancel={() => setActive(null)}>
        <div className="board" data-testid="board">
          {state.columns.map((column) => (
            <BoardColumn key={column.stage.id} column={column} onNearEnd={(id) => void loadMore(id)} />
          ))}
        </div>
        <DragOverlay dropAnimation={null} style={{ pointerEvents: "none" }}>
          {active && activeStage ? <DealCard card={active} stage={activeStage} overlay /> : null}
        </DragOverlay>
      </DndContext>
      {losing && (
        <div className="modal-backdrop" role="presentation">
          <form
            className="modal"
            role="dialog"
            aria-modal="true"
            aria-labelledby="lost-title"
            data-testid="lost-dialog"
            onSubmit={(e) => {
              e.preventDefault();
              if (!reason.trim()) return;
              const target = losing.drop;
              setLosing(null);
              void drop(target, reason.trim());
            }}
          >
            <h3 id="lost-title">{t("lostReasonTitle", { title: losing.title })}</h3>
            <label>
              {t("lostReason")}
              <input autoFocus value={reason} onChange={(e) => setReason(e.target.value)} data-testid="lost-reason" required />
            </label>
            <div className="modal-actions">
              <button type="button" onClick={() => setLosing(null)}>
                {t("cancel")}
              </button>
              <button type="submit" className="primary" data-testid="lost-confirm">
                {t("confirm")}
              </button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}
