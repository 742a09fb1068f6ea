import { memo, useCallback, useEffect, useRef, useState, type RefObject } from 'react';
import type { SyncUpdate } from '../core/engine-protocol.ts';
import { reviveError } from '../core/errors.ts';
import type { EngineClient } from './engine-client.ts';
import { DevicesPanel } from './DevicesPanel.tsx';
import { PairPanel, type Pairing } from './PairPanel.tsx';

const PAIR = /^#pair=([^&]+)$/;

function statusText(sync: SyncUpdate | undefined): string {
  if (!sync) return 'Starting…';
  // Out of a space everything is "pending" for the next one: that is no news to a person.
  if (sync.state === 'off')
    return sync.lastError ? `Not syncing · ${sync.lastError}` : 'Not syncing';
  const pending = sync.pending > 0 ? `${sync.pending} pending` : '';
  const word = {
    off: 'Not syncing',
    // The network may be up while the sync server is not: say which.
    offline: navigator.onLine ? 'Server unreachable' : 'Offline',
    syncing: 'Syncing…',
    synced: 'Synced',
  }[sync.state];
  const parts = [sync.state === 'syncing' && pending ? pending : word];
  if (sync.state !== 'syncing' && pending) parts.push(pending);
  if (sync.lastError) parts.push(sync.lastError);
  return parts.join(' · ');
}

/**
 * Pairing and sync: start a space here, or join one by opening another device's pairing link
 * (`/#pair=<token>`); the status always says where things stand, and commands that the other
 * devices' changes made impossible are listed until dismissed.
 */
function SyncPanelView({
  client,
  onError,
  counterCount,
  shownOnCards,
}: {
  client: EngineClient;
  onError: (message: string) => void;
  /** How many counters this device has: joining shares them. */
  counterCount: number;
  /** Streams with a card of their own: their rejections show there, not here. */
  shownOnCards?: ReadonlySet<string>;
}) {
  const [sync, setSync] = useState<SyncUpdate>();
  const [busy, setBusy] = useState(false);
  const [pairing, setPairing] = useState<Pairing>();
  const [devicesVersion, setDevicesVersion] = useState(0);
  const [news, setNews] = useState<string>();
  // Rejections of counters on screen are told on their cards; the rest (a counter gone, the
  // board's order) here.
  const elsewhere = (sync?.rejected ?? []).filter((r) => !shownOnCards?.has(r.stream));
  const watchDevices = useCallback(async () => (await client.devices()).devices, [client]);
  const joined = useCallback((name: string) => {
    setPairing(undefined);
    setDevicesVersion((n) => n + 1);
    setNews(`“${name}” joined this space.`);
  }, []);
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
  const [invite, setInvite] = useState<{ token: string; space: string }>();
  useEffect(() => {
    const open = () => {
      const match = PAIR.exec(location.hash);
      if (!match) return;
      history.replaceState(null, '', location.pathname + location.search);
      const token = decodeURIComponent(match[1]!);
      setInvite({ token, space: token.split('.')[1] ?? '' });
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
  return (
    <section className="sync" aria-label="Sync">
      {invite && (
        <InviteDialog
          ref={dialog}
          invite={invite}
          sync={sync}
          busy={busy}
          counterCount={counterCount}
          onJoin={act(async () => {
            // In another space, the worker redeems the invite, then leaves that space (local
            // counters stay) and joins: a used or expired invite leaves the device where it was.
            await client.joinSpace(location.origin, invite.token);
            setInvite(undefined);
          }, 'Could not join')}
          onClose={() => setInvite(undefined)}
        />
      )}
      <div className="sync-row">
        <span className={`dot dot-${sync?.state ?? 'off'}`} aria-hidden="true" />
        <span role="status" aria-label="Sync status" className="sync-status">
          {statusText(sync)}
        </span>
        {!inSpace ? (
          <button
            type="button"
            disabled={busy || sync === undefined}
            onClick={act(
              async () => setPairing(await client.startSync(location.origin)),
              'Could not start syncing',
            )}
          >
            Start syncing
          </button>
        ) : (
          <>
            {sync.state === 'offline' && navigator.onLine && (
              <button type="button" onClick={act(() => client.retrySync(), 'Could not retry')}>
                Retry now
              </button>
            )}
            <button
              type="button"
              className="link"
              disabled={busy}
              onClick={act(async () => {
                if (confirm('Stop syncing this device? Your counters stay here.'))
                  await client.leaveSpace();
              }, 'Could not leave')}
            >
              Leave space
            </button>
          </>
        )}
      </div>
      {inSpace &&
        (pairing ? (
          <PairPanel
            pairing={pairing}
            watchDevices={watchDevices}
            onJoined={joined}
            onClose={() => {
              setPairing(undefined);
              setDevicesVersion((n) => n + 1);
            }}
            onCancel={act(async () => {
              await client.cancelPairing(pairing.invite);
              setPairing(undefined);
            }, 'Could not cancel the invite')}
          />
        ) : (
          <button
            type="button"
            disabled={busy}
            onClick={act(async () => {
              setNews(undefined);
              setPairing(await client.pairDevice());
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
  onJoin,
  onClose,
}: {
  ref: RefObject<HTMLDivElement | null>;
  invite: { token: string; space: string };
  sync: SyncUpdate | undefined;
  busy: boolean;
  counterCount: number;
  onJoin: () => void;
  onClose: () => void;
}) {
  const here = sync?.space;
  const short = <code>{invite.space.slice(0, 8)}…</code>;
  if (here === invite.space)
    return (
      <div className="invite" role="dialog" aria-label="Join a space" tabIndex={-1} ref={ref}>
        <p>This device already syncs with space {short}: there is nothing to join.</p>
        <div className="invite-actions">
          <button type="button" onClick={onClose}>
            OK
          </button>
        </div>
      </div>
    );
  const counters =
    counterCount === 0
      ? 'This device has no counters yet; what it counts from now on will be shared with every device in that space.'
      : `Its ${counterCount === 1 ? 'counter' : `${counterCount} counters`}, with every count, will be shared with every device in that space.`;
  return (
    <div className="invite" role="dialog" aria-label="Join a space" tabIndex={-1} ref={ref}>
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
        {counters} Counters with the same name on both sides are both kept, every count in them: the
        one made later is renamed, like “Water (2)”. Only join a space from a link you made
        yourself.
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
