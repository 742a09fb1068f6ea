import { useCallback, useEffect, useState } from 'react';
import type { CounterCommand } from '../core/counter.ts';
import { reviveError } from '../core/errors.ts';
import { AddCounterForm } from './AddCounterForm.tsx';
import { CounterCard } from './CounterCard.tsx';
import { SyncPanel } from './SyncPanel.tsx';
import type { EngineClient } from './engine-client.ts';
import type { UpdateOffer } from './pwa.ts';
import { useCounters, useNotices, useOnline } from './use-engine.ts';

export type Run = (
  stream: string,
  commands: CounterCommand | readonly CounterCommand[],
) => Promise<boolean>;

export type Updates = {
  offer: UpdateOffer | undefined;
  listener: ((offer: UpdateOffer) => void) | undefined;
};

export function App({ client, updates }: { client: EngineClient; updates?: Updates }) {
  const [update, setUpdate] = useState<UpdateOffer | undefined>(updates?.offer);
  const [updating, setUpdating] = useState(false);
  useEffect(() => {
    if (!updates) return;
    updates.listener = setUpdate;
    if (updates.offer) setUpdate(updates.offer);
    return () => void (updates.listener = undefined);
  }, [updates]);
  const counters = useCounters(client);
  const notices = useNotices(client);
  const notice = notices.outdated;
  const online = useOnline();
  const [message, setMessage] = useState<string>();

  /** Runs a command; a rejection or failure becomes a sentence in the alert. True if accepted. */
  const run = useCallback<Run>(
    async (stream, commands) => {
      try {
        const result = await client.execute(stream, commands);
        if (result.type === 'rejected') {
          setMessage(result.reason);
          return false;
        }
        setMessage(undefined);
        return true;
      } catch (error) {
        setMessage(reviveError(error).message);
        return false;
      }
    },
    [client],
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
        <span className={`pill ${online ? 'pill-on' : 'pill-off'}`} aria-label="Network status">
          {online ? 'Online' : 'Offline'}
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
        <SyncPanel client={client} onError={setMessage} counterCount={counters?.length ?? 0} />
        <AddCounterForm run={run} />
        <div role="alert" className={message ? 'alert' : 'alert alert-empty'}>
          {message && (
            <>
              <span>{message}</span>
              <button
                type="button"
                className="link"
                onClick={() => setMessage(undefined)}
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
        ) : counters.length === 0 ? (
          <p className="empty">No counters yet. Name one above to start counting.</p>
        ) : (
          <ul className="grid" aria-label="Counters">
            {counters.map((row) => (
              <CounterCard key={row.id} row={row} run={run} client={client} />
            ))}
          </ul>
        )}
      </main>
      <footer className="muted small">
        Saved on this device first. Works offline. Every tab stays in step.
      </footer>
    </div>
  );
}
