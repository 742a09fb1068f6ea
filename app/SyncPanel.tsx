import {
  memo,
  useCallback,
  useEffect,
  useRef,
  useState,
  type KeyboardEvent,
  type RefObject,
} from 'react';
import type { SyncUpdate } from '../core/engine-protocol.ts';
import { isPairingToken } from '../core/pairing-link.ts';
import { reviveError } from '../core/errors.ts';
import type { EngineClient } from './engine-client.ts';
import { DevicesPanel } from './DevicesPanel.tsx';
import { focusWhenShown } from './focus.ts';
import { PairPanel, type Pairing } from './PairPanel.tsx';
import { rateLimited, statusText } from './sync-words.ts';

const PAIR = /^#pair=([^&]+)$/;

/** An invite opened from a link: its token, its space, and whether it is a pairing link at all. */
type Invite = { readonly token: string; readonly space: string; readonly valid: boolean };

/**
 * Pairing and sync: start a space here, or join one by opening another device's pairing link
 * (`/#pair=<token>`); the status always says where things stand, and commands that the other
 * devices' changes made impossible are listed until dismissed.
 */
function SyncPanelView({
  client,
  onError,
  counterCount,
  archivedCount = 0,
  shownOnCards,
}: {
  client: EngineClient;
  onError: (message: string) => void;
  /** How many counters this device lists: joining shares them. */
  counterCount: number;
  /** How many more it keeps in its archive: joining shares them too. */
  archivedCount?: number;
  /** Streams with a card of their own: their rejections show there, not here. */
  shownOnCards?: ReadonlySet<string>;
}) {
  const [sync, setSync] = useState<SyncUpdate>();
  const [busy, setBusy] = useState(false);
  const [pairing, setPairing] = useState<Pairing>();
  const [devicesVersion, setDevicesVersion] = useState(0);
  const [news, setNews] = useState<string>();
  /** What leaving said beside having left (the server not told, say): news, not a failure. */
  const [leftNote, setLeftNote] = useState<string>();
  const section = useRef<HTMLElement>(null);
  // When something in the card closes or replaces the control pressed: focus goes to the button
  // that starts syncing or pairing (whichever the card shows, once it is enabled), or to the
  // pairing link a press made. Never to the page.
  const focusStart = useCallback(
    () =>
      focusWhenShown(() =>
        section.current?.querySelector<HTMLElement>(
          '[data-sync-start]:not(:disabled), [data-pair-start]:not(:disabled)',
        ),
      ),
    [],
  );
  const focusPairing = () => focusWhenShown(() => document.getElementById('pairing-link'));
  // Rejections of counters on screen are told on their cards; the rest (a counter gone, the
  // board's order) here.
  const elsewhere = (sync?.rejected ?? []).filter((r) => !shownOnCards?.has(r.stream));
  const watchDevices = useCallback(async () => (await client.devices()).devices, [client]);
  const joined = useCallback(
    (name: string) => {
      // The panel closes by itself: focus in it goes on, not to the page.
      if (document.activeElement?.closest('.pair')) focusStart();
      setPairing(undefined);
      setDevicesVersion((n) => n + 1);
      setNews(`“${name}” joined this space.`);
    },
    [focusStart],
  );
  const joining = useRef(false);

  useEffect(
    () =>
      client.subscribe({ topic: 'sync' }, (update) => {
        if (update.type === 'sync') setSync(update);
      }),
    [client],
  );

  useEffect(() => {
    const report = () => void client.setOnline(navigator.onLine).catch(() => undefined);
    window.addEventListener('online', report);
    window.addEventListener('offline', report);
    return () => {
      window.removeEventListener('online', report);
      window.removeEventListener('offline', report);
    };
  }, [client]);

  // Opened through a pairing link: drop the token from the address bar and ask first. Joining
  // shares this device's counters with that space, so a link alone must never do it.
  // A link pasted into a tab that already shows Tally only changes the hash: listen for it too.
  const [invite, setInvite] = useState<Invite>();
  useEffect(() => {
    const open = () => {
      const match = PAIR.exec(location.hash);
      if (!match) return;
      history.replaceState(null, '', location.pathname + location.search);
      // A garbled link may not even decode: it is no pairing link either.
      let token: string | undefined;
      try {
        token = decodeURIComponent(match[1]!);
      } catch {
        token = undefined;
      }
      const space = token?.split('.')[1] ?? '';
      setInvite({ token: token ?? '', space, valid: token !== undefined && isPairingToken(token) });
    };
    if (!joining.current) {
      joining.current = true;
      open();
    }
    window.addEventListener('hashchange', open);
    return () => window.removeEventListener('hashchange', open);
  }, []);
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // The dialog takes focus, so a keyboard user lands on its question.
    if (invite) dialog.current?.focus();
  }, [invite]);

  const act = (work: () => Promise<unknown>, what: string) => async () => {
    setBusy(true);
    try {
      await work();
    } catch (error) {
      onError(`${what}: ${reviveError(error).message}`);
    } finally {
      setBusy(false);
    }
  };

  const inSpace = sync !== undefined && sync.state !== 'off';
  // Held back by the server's limits, sync waits: no red dot, and no "Retry now", which would
  // only send the server more requests while it asks for fewer.
  const limited = sync !== undefined && rateLimited(sync);
  const closeInvite = () => {
    setInvite(undefined);
    focusStart();
  };
  return (
    <section className="sync" aria-label="Sync" ref={section}>
      {invite && (
        <InviteDialog
          ref={dialog}
          invite={invite}
          sync={sync}
          busy={busy}
          counterCount={counterCount}
          archivedCount={archivedCount}
          onJoin={act(async () => {
            // In another space, the worker redeems the invite, then leaves that space (local
            // counters stay) and joins: a used or expired invite leaves the device where it was.
            await client.joinSpace(location.origin, invite.token);
            setLeftNote(undefined);
            closeInvite();
          }, 'Could not join')}
          onClose={closeInvite}
        />
      )}
      <div className="sync-row">
        <span
          className={`dot dot-${limited ? 'syncing' : (sync?.state ?? 'off')}`}
          aria-hidden="true"
        />
        <span role="status" aria-label="Sync status" className="sync-status">
          {statusText(sync)}
        </span>
        {!inSpace ? (
          <button
            type="button"
            data-sync-start
            disabled={busy || sync === undefined}
            onClick={act(async () => {
              setLeftNote(undefined);
              setPairing(await client.startSync(location.origin));
              focusPairing();
            }, 'Could not start syncing')}
          >
            Start syncing
          </button>
        ) : (
          // Together: on a phone they wrap below a long status as one row, inside the card.
          <span className="sync-actions">
            {sync.state === 'offline' && navigator.onLine && !limited && (
              <button type="button" onClick={act(() => client.retrySync(), 'Could not retry')}>
                Retry now
              </button>
            )}
            <button
              type="button"
              className="link"
              disabled={busy}
              onClick={act(async () => {
                if (!confirm('Stop syncing this device? Your counters stay here.')) return;
                // What came with leaving (the server could not be told, counters could not
                // take their early history) is a notice: the person left all the same.
                const { note } = await client.leaveSpace();
                setLeftNote(note);
                setNews(undefined);
                // An invite of the space left behind is no use to show when the device next
                // joins or starts one.
                setPairing(undefined);
                focusStart();
              }, 'Could not leave')}
            >
              Leave space
            </button>
          </span>
        )}
      </div>
      {!inSpace && leftNote && (
        <p className="small" role="status" aria-label="Left the space">
          {leftNote}
        </p>
      )}
      {inSpace &&
        (pairing ? (
          <PairPanel
            pairing={pairing}
            watchDevices={watchDevices}
            onJoined={joined}
            onClose={() => {
              setPairing(undefined);
              setDevicesVersion((n) => n + 1);
              focusStart();
            }}
            onCancel={act(async () => {
              await client.cancelPairing(pairing.invite);
              setPairing(undefined);
              focusStart();
            }, 'Could not cancel the invite')}
          />
        ) : (
          <button
            type="button"
            data-pair-start
            disabled={busy}
            onClick={act(async () => {
              setNews(undefined);
              setPairing(await client.pairDevice());
              focusPairing();
            }, 'Could not pair')}
          >
            Pair a device
          </button>
        ))}
      {inSpace && news && (
        <p className="small" role="status" aria-label="Pairing">
          {news}
        </p>
      )}
      {inSpace && <DevicesPanel client={client} onError={onError} version={devicesVersion} />}
      {elsewhere.length > 0 && (
        <div className="rejected">
          <h2>Not applied after sync</h2>
          <ul aria-label="Rejected after sync">
            {elsewhere.map((r) => (
              <li key={r.commandId}>
                <span>
                  {r.name ? <strong>{r.name}: </strong> : null}
                  {r.reason}
                  {r.later
                    ? ` ${r.later === 1 ? 'One later change' : `${r.later} later changes`} to it could not be made either.`
                    : null}
                </span>
                <button
                  type="button"
                  className="link"
                  aria-label={`Dismiss: ${r.reason}`}
                  onClick={act(() => client.dismissRejection(r.commandId), 'Could not dismiss')}
                >
                  Dismiss
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

/**
 * Asked before joining: joining shares this device's counters with that space. It says what will
 * happen, including to counters of the same name, and what a link to the space this device is
 * already in, or to another one, means.
 */
function InviteDialog({
  ref,
  invite,
  sync,
  busy,
  counterCount,
  archivedCount,
  onJoin,
  onClose,
}: {
  ref: RefObject<HTMLDivElement | null>;
  invite: Invite;
  sync: SyncUpdate | undefined;
  busy: boolean;
  counterCount: number;
  archivedCount: number;
  onJoin: () => void;
  onClose: () => void;
}) {
  const here = sync?.space;
  const short = <code>{invite.space.slice(0, 8)}…</code>;
  // Escape answers no, as Cancel (or OK) does.
  const dialogProps = {
    className: 'invite',
    role: 'dialog',
    'aria-label': 'Join a space',
    tabIndex: -1,
    ref,
    onKeyDown: (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
    },
  };
  if (!invite.valid)
    return (
      <div {...dialogProps}>
        <p>
          That is not a Tally pairing link. Make a new one with “Pair a device” on a device in the
          space.
        </p>
        <div className="invite-actions">
          <button type="button" onClick={onClose}>
            OK
          </button>
        </div>
      </div>
    );
  if (here === invite.space)
    return (
      <div {...dialogProps}>
        <p>This device already syncs with space {short}: there is nothing to join.</p>
        <div className="invite-actions">
          <button type="button" onClick={onClose}>
            OK
          </button>
        </div>
      </div>
    );
  const all = counterCount + archivedCount;
  const counters =
    all === 0
      ? 'This device has no counters yet; what it counts from now on will be shared with every device in that space.'
      : `Its ${all === 1 ? 'counter' : `${all} counters`}${archivedCount === 0 ? '' : archivedCount === all ? (all === 1 ? ' (archived)' : ' (all archived)') : ` (${archivedCount} of them archived)`}, with every count, will be shared with every device in that space.`;
  return (
    <div {...dialogProps}>
      <p>
        {here ? (
          <>
            This device syncs with another space now. Joining space {short} leaves that one once the
            invite is accepted (a used or expired invite leaves everything as it is); your counters
            stay on this device and go to the new space.{' '}
          </>
        ) : (
          <>Sync this device with space {short}? </>
        )}
        {counters} Counters with the same name on both sides (letter case aside) are both kept,
        every count in them: one is renamed, like “Water (2)”, and can be merged into the other
        afterwards. Only join a space from a link you made yourself.
      </p>
      <div className="invite-actions">
        <button type="button" disabled={busy} onClick={onJoin}>
          {here ? 'Leave and join' : 'Join space'}
        </button>
        <button type="button" className="link" onClick={onClose}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/** Rendered again only when what it is given changes (not on every count in the list). */
export const SyncPanel = memo(SyncPanelView);
