import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { boardStream, boardViewName } from '../core/models/board/order.ts';
import type { BoardRow } from '../core/models/board/projections.ts';
import { nameKey } from '../core/models/counter/name.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import type { UndoableChange } from '../core/models/counter/undo.ts';
import { counterViewName } from '../core/models/counter/view.ts';
import { reviveError } from '../core/errors.ts';
import type { SyncRejection, SyncUpdate } from '../core/engine-protocol.ts';
import { InstallButton } from './InstallButton.tsx';
import { AddCounterForm } from './AddCounterForm.tsx';
import { ArchivedCounters } from './ArchivedCounters.tsx';
import { BackupPanel } from './BackupPanel.tsx';
import { CounterCard } from './CounterCard.tsx';
import { CounterList } from './CounterList.tsx';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { focusWhenShown } from './focus.ts';
import { keepData } from './keep-data.ts';
import { movesTheList, useListOrder, type OrderCache } from './list-order.ts';
import type { ListedRows } from './long-list.ts';
import { SyncPanel } from './SyncPanel.tsx';
import { rateLimited } from './sync-words.ts';
import { CardAlerts, LastChange, UndoOffer } from './UndoOffer.tsx';
import type { EngineClient, HeldRows } from './engine-client.ts';
import type { UpdateOffer } from './pwa.ts';
import { RowWatch, useNotices, useOnline, useSyncPart, useView } from './use-engine.ts';

/**
 * Runs a command; true if accepted. A refusal is a sentence, told to `report` where the person
 * acted (a card), or else in the page's alert.
 */
export type Run = (
  stream: string,
  commands: object | readonly object[],
  report?: (reason: string | undefined) => void,
) => Promise<boolean>;

/**
 * The person's last change to a counter (its value, name or step, or its archiving), which Undo
 * takes back as a new command (core/models/counter/undo.ts).
 */
export type Change = UndoableChange & {
  readonly id: string;
  /** The counter's name when it was made (the offer shows the name it has now). */
  readonly name: string;
  /** What was done, before the name: "+1 on", "Reset", "Set", "Renamed", "Archived". */
  readonly what: string;
  /** What follows the name, if anything: "to 5" ("Set Pages to 5"). */
  readonly tail?: string;
  /** When it was made: a rejection after sync since then may be of it. */
  readonly at: number;
};

/** Moves a counter one place up or down, or to where another one is, in every device's order. */
export type Move = (id: string, to: 'up' | 'down' | { readonly to: string }) => Promise<boolean>;

export type Updates = {
  offer: UpdateOffer | undefined;
  listener: ((offer: UpdateOffer) => void) | undefined;
};

/** What the page shows of sync: the server unreachable, a space stored, the rejections. */
type PageSync = {
  readonly offline: boolean;
  readonly on: boolean;
  readonly rejected: SyncUpdate['rejected'];
};
const pageSync = (update: SyncUpdate): PageSync => ({
  // A server that asks the device to slow down (a 429) answers: it is not unreachable.
  offline: update.state === 'offline' && !rateLimited(update),
  on: update.state !== 'off',
  rejected: update.rejected,
});
const samePageSync = (a: PageSync, b: PageSync): boolean =>
  a.offline === b.offline &&
  a.on === b.on &&
  (a.rejected === b.rejected || JSON.stringify(a.rejected) === JSON.stringify(b.rejected));
const noRejections: readonly SyncRejection[] = [];

export function App({ client, updates }: { client: EngineClient; updates?: Updates }) {
  const [update, setUpdate] = useState<UpdateOffer | undefined>(updates?.offer);
  const [updating, setUpdating] = useState(false);
  useEffect(() => {
    if (!updates) return;
    updates.listener = setUpdate;
    if (updates.offer) setUpdate(updates.offer);
    return () => void (updates.listener = undefined);
  }, [updates]);
  // What the list's order was last made from (app/list-order.ts).
  const [order] = useState<OrderCache>(() => ({}));
  // A count changes one card and nothing else on the page: its card renders it alone (it
  // watches its row), not the page and the list around it. Whatever moves the list or shows
  // a name elsewhere renders the page.
  const cards = useMemo(
    () => ({
      watch: new RowWatch(client, counterViewName),
      renders: (keys: readonly string[]) => {
        const held = client.viewRows(counterViewName) as HeldRows<CounterRow> | undefined;
        const { kept } = order;
        if (!held || client.viewListed(counterViewName) !== undefined) return true;
        if (movesTheList(kept, held, keys)) return true;
        // The order stands for these rows too: taken as made from them (when nothing else came
        // since it was made), so however many counts come between two renders of the page, the
        // next one still knows what changed (app/engine-client.ts keeps the last 64 updates'
        // keys) instead of ordering the whole list again.
        if (kept && kept.rows.revision === held.revision - 1) order.kept = { ...kept, rows: held };
        return false;
      },
    }),
    [client, order],
  );
  const rows = useView<CounterRow>(client, counterViewName, cards);
  const board = useView<BoardRow>(client, boardViewName)?.get(boardStream);
  // The first screen the engine kept (docs/architecture.md, "The first screen"): its rows come
  // in the list's order, the list's length beside them, until the whole view is read.
  const listed = rows && client.viewListed(counterViewName);
  // The list's order is made again only when a row is added, removed, archived or restored, or
  // the board moves (app/list-order.ts): on a rename the same ids come back.
  const ids = useListOrder(rows, board?.order, listed, order);
  const counters = useMemo<ListedRows | undefined>(
    () => rows && ids && { length: ids.length, at: (index) => rows.get(ids[index]!) },
    [rows, ids],
  );
  /** Counters with a card on screen: their rejections after sync show there. */
  const onCards = useMemo(() => new Set(ids), [ids]);
  // Archived rows change only when the order is made again (any change to one makes it again:
  // app/list-order.ts), so the archived panel is not rendered again on every count.
  const archived = useMemo(
    () =>
      ids
        ? [...(rows?.values() ?? [])]
            .filter((row) => row.archived)
            .sort((a, b) => a.name.localeCompare(b.name))
        : [],
    // eslint-disable-next-line react-hooks/exhaustive-deps -- made again when the order is
    [ids],
  );
  const notices = useNotices(client);
  const notice = notices.outdated;
  const online = useOnline();
  // What the page shows of sync, the same object while it is the same: while a space is stored,
  // every count brings sync updates (the pending count, syncing → synced), which only the sync
  // panel shows (it watches sync itself).
  const sync = useSyncPart(client, pageSync, samePageSync);
  // One word for where this device stands, the same the sync panel says: the network can be up
  // while the sync server is not.
  const connection = !online
    ? { word: 'Offline', tone: 'pill-off' }
    : sync?.offline
      ? { word: 'Server unreachable', tone: 'pill-off' }
      : { word: 'Online', tone: 'pill-on' };
  const [message, setMessage] = useState<string>();
  // Offered without rendering the page: a count renders its card and the offer alone.
  const [lastChange] = useState(() => new LastChange());
  // Each card's alert, where a refused Undo of its counter shows.
  const [cardAlerts] = useState(() => new CardAlerts());

  /** Runs a command; a rejection or failure becomes a sentence in the alert. True if accepted. */
  const run = useCallback<Run>(
    async (stream, commands, report = setMessage) => {
      try {
        const result = await client.execute(stream, commands);
        if (result.type === 'rejected') {
          report(result.reason);
          return false;
        }
        report(undefined);
        keepData();
        return true;
      } catch (error) {
        report(reviveError(error).message);
        return false;
      }
    },
    [client],
  );

  // Each counter's list stays the same array while its rejections do: every sync update (each
  // push) would otherwise re-render every card that shows one (CounterCard is memoised).
  const lastRejections = useRef(new Map<string, readonly SyncRejection[]>());
  const rejectionsOf = useMemo(() => {
    const of = new Map<string, SyncRejection[]>();
    for (const rejection of sync?.rejected ?? []) {
      const list = of.get(rejection.stream) ?? [];
      list.push(rejection);
      of.set(rejection.stream, list);
    }
    const kept = new Map<string, readonly SyncRejection[]>();
    for (const [stream, list] of of) {
      const before = lastRejections.current.get(stream);
      kept.set(stream, before && JSON.stringify(before) === JSON.stringify(list) ? before : list);
    }
    return kept;
  }, [sync]);
  useEffect(() => {
    lastRejections.current = rejectionsOf;
  }, [rejectionsOf]);
  const dismiss = useCallback(
    (commandId: string) =>
      void client
        .dismissRejection(commandId)
        .catch((error: unknown) => setMessage(reviveError(error).message)),
    [client],
  );

  // What a move is placed among, and the rows a merge looks its counter up in, as last rendered:
  // read when a card moves or merges, so `move` and `findNamed` stay the same functions and a
  // count re-renders its own card only (CounterCard is memoised).
  const shown = useRef({ ids, listed, board, rows });
  useLayoutEffect(() => {
    shown.current = { ids, listed, board, rows };
  });
  // A lookup by name, made only when a card's More opens, over the rows as last rendered.
  const findNamed = useCallback((name: string): CounterRow | undefined => {
    const key = nameKey(name);
    for (const row of shown.current.rows?.values() ?? [])
      if (!row.archived && nameKey(row.name) === key) return row;
    return undefined;
  }, []);
  // Sync's state as it last came, read when a merge is asked for (not rendered: a count would
  // render the page at each push).
  const syncNow = useRef<SyncUpdate>(undefined);
  useEffect(
    () =>
      client.subscribe({ topic: 'sync' }, (update) => {
        if (update.type === 'sync') syncNow.current = update;
      }),
    [client],
  );
  const mayMerge = useCallback((): string | undefined => {
    const state = syncNow.current?.state;
    return state === 'synced' || state === 'off'
      ? undefined
      : 'Merging needs this device synced (“Synced” above), so the count is added once: press Merge again then.';
  }, []);
  const move = useCallback<Move>(
    async (id, to) => {
      const { ids: order, listed, board } = shown.current;
      if (!order) return false;
      // Not while only the list's first rows are here: a move is placed among all of them.
      if (listed !== undefined) {
        setMessage('Counters can be moved once the whole list is read: a moment, please.');
        return false;
      }
      const index = order.indexOf(id);
      // Up or down is a move to the neighbour's place; a drop is a move to the target's place.
      const target = typeof to === 'object' ? order.indexOf(to.to) : index + (to === 'up' ? -1 : 1);
      if (index < 0 || target < 0 || target >= order.length || target === index) return false;
      const after = target < index ? (order[target - 1] ?? null) : order[target]!;
      // Counters not in the board's order yet join it first, as shown: one atomic batch.
      const placed = new Set(board?.order);
      const unplaced = order.filter((other) => !placed.has(other));
      return run(boardStream, [
        ...(unplaced.length > 0 ? [{ type: 'place', counters: unplaced }] : []),
        { type: 'move', counter: id, after },
      ]);
    },
    [run],
  );

  return (
    <div className="shell">
      <header className="top">
        <h1>
          <span className="logo" aria-hidden="true">
            ▦
          </span>{' '}
          Tally
        </h1>
        <InstallButton />
        <span className={`pill ${connection.tone}`} aria-label="Network status">
          {connection.word}
        </span>
      </header>

      {update && notice?.notice !== 'outdated' && (
        <div className="banner" role="status" aria-label="Update available">
          <span>Update available: a new version of Tally is ready.</span>
          <button
            type="button"
            disabled={updating}
            onClick={() => {
              setUpdating(true);
              update.accept();
            }}
          >
            {updating ? 'Updating…' : 'Update'}
          </button>
        </div>
      )}

      {notices.damaged && (
        <div className="banner banner-danger" role="status" aria-label="Storage problem">
          <span>{notices.damaged.message}</span>
        </div>
      )}

      {notice?.notice === 'outdated' && (
        <div className="banner" role="status">
          <span>{notice.message}</span>
          <button type="button" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      )}

      <main>
        <SyncPanel
          client={client}
          onError={setMessage}
          counterCount={listed ?? counters?.length ?? 0}
          archivedCount={archived.length}
          shownOnCards={onCards}
        />
        <AddCounterForm run={run} />
        <UndoOffer
          last={lastChange}
          run={run}
          alerts={cardAlerts}
          onError={setMessage}
          rejectionsOf={rejectionsOf}
          // Only the whole list says a counter is gone (the first screen holds its first rows).
          {...(listed === undefined && rows ? { rows } : {})}
        />
        <div role="alert" className={message ? 'alert' : 'alert alert-empty'}>
          {message && (
            <>
              <span>{message}</span>
              <button
                type="button"
                className="link"
                onClick={() => {
                  setMessage(undefined);
                  // This button goes with the message: focus goes to the field above it, where
                  // most messages come from (a name already taken), not to the page.
                  focusWhenShown(() => document.getElementById('counter-name'));
                }}
                aria-label="Dismiss message"
              >
                ×
              </button>
            </>
          )}
        </div>
        {counters === undefined ? (
          <p className="muted" aria-busy="true">
            Opening your counters…
          </p>
        ) : (listed ?? counters.length) === 0 ? (
          <p className="empty">No counters yet. Name one above to start counting.</p>
        ) : (
          <CounterList
            counters={counters}
            {...(listed === undefined ? {} : { listed })}
            // Only the first screen came, and the engine could not open: the rest never will.
            {...(listed !== undefined && notices.damaged ? { stalled: true } : {})}
            card={({ row, index, position }) => (
              <ErrorBoundary
                key={row.id}
                what={`“${row.name}”`}
                wrap={(message) =>
                  position ? (
                    <div role="listitem" className="card">
                      {message}
                    </div>
                  ) : (
                    <li className="card">{message}</li>
                  )
                }
              >
                <CounterCard
                  key={row.id}
                  row={row}
                  watch={cards.watch}
                  run={run}
                  onChange={lastChange.set}
                  findNamed={findNamed}
                  mayMerge={mayMerge}
                  alerts={cardAlerts}
                  move={move}
                  first={index === 0}
                  last={index === (listed ?? counters.length) - 1}
                  client={client}
                  rejections={rejectionsOf.get(row.id) ?? noRejections}
                  onDismiss={dismiss}
                  {...(position ? { position } : {})}
                />
              </ErrorBoundary>
            )}
          />
        )}
        {/* Not from the first screen, which holds the list's first rows only (none archived). */}
        {listed === undefined && <ArchivedCounters rows={archived} run={run} client={client} />}
        <BackupPanel client={client} rows={rows} syncing={sync?.on ?? false} onError={setMessage} />
      </main>
      <footer className="muted small">
        Saved on this device first. Works offline. Every tab stays in step.
      </footer>
    </div>
  );
}
