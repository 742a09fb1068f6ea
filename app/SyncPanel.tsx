import { useEffect, useRef, useState } from 'react';
import type { SyncUpdate } from '../core/engine-api.ts';
import { reviveError } from '../core/errors.ts';
import type { EngineClient } from './engine-client.ts';

const PAIR = /^#pair=([^&]+)$/;

function statusText(sync: SyncUpdate | undefined): string {
  if (!sync) return 'Starting…';
  const pending = sync.pending > 0 ? `${sync.pending} pending` : '';
  const word = {
    off: 'Not syncing',
    offline: 'Offline',
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
export function SyncPanel({
  client,
  onError,
  counterCount,
}: {
  client: EngineClient;
  onError: (message: string) => void;
  /** How many counters this device has: joining shares them. */
  counterCount: number;
}) {
  const [sync, setSync] = useState<SyncUpdate>();
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);
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
  const [invite, setInvite] = useState<{ token: string; space: string }>();
  useEffect(() => {
    const match = PAIR.exec(location.hash);
    if (!match || joining.current) return;
    joining.current = true;
    history.replaceState(null, '', location.pathname + location.search);
    const token = decodeURIComponent(match[1]!);
    setInvite({ token, space: token.split('.')[1] ?? '' });
  }, []);

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
        <div className="invite" role="dialog" aria-label="Join a space" aria-modal="false">
          <p>
            Sync this device with space <code>{invite.space.slice(0, 8)}…</code>? Its counters
            {counterCount > 0 ? ` (${counterCount} here)` : ''} will be shared with every device in
            that space. Only join a space from a link you made yourself.
          </p>
          <div className="invite-actions">
            <button
              type="button"
              disabled={busy}
              onClick={act(async () => {
                await client.joinSpace(location.origin, invite.token);
                setInvite(undefined);
              }, 'Could not join')}
            >
              Join space
            </button>
            <button type="button" className="link" onClick={() => setInvite(undefined)}>
              Cancel
            </button>
          </div>
        </div>
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
            onClick={act(() => client.startSync(location.origin), 'Could not start syncing')}
          >
            Start syncing
          </button>
        ) : (
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
        )}
      </div>
      {inSpace && sync.pairingLink && (
        <div className="pair">
          <label htmlFor="pairing-link">Pairing link</label>
          <input
            id="pairing-link"
            readOnly
            value={sync.pairingLink}
            onFocus={(event) => event.target.select()}
          />
          <button
            type="button"
            onClick={act(async () => {
              await navigator.clipboard.writeText(sync.pairingLink!);
              setCopied(true);
            }, 'Could not copy')}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
          <p className="muted small">
            Open this link on your other device to sync it with this one.
          </p>
        </div>
      )}
      {sync && sync.rejected.length > 0 && (
        <div className="rejected">
          <h2>Not applied after sync</h2>
          <ul aria-label="Rejected after sync">
            {sync.rejected.map((r) => (
              <li key={r.commandId}>
                <span>
                  {r.name ? <strong>{r.name}: </strong> : null}
                  {r.reason}
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
