import { useEffect, useMemo, useRef, useState, type ChangeEvent } from 'react';
import type { ImportPreview } from '../core/engine-protocol.ts';
import { maxBackupBytes } from '../core/backup-limits.ts';
import { reviveError } from '../core/errors.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import type { EngineClient } from './engine-client.ts';
import { focusWhenShown } from './focus.ts';
import { watchKept } from './keep-data.ts';

const nameKey = (name: string) => name.trim().replace(/\s+/g, ' ').toLowerCase();
const changes = (n: number) => (n === 1 ? '1 change' : `${n} changes`);

/** Hands the browser a file to save. */
function download(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Where a person's data lives, and backups (README, "Backup"): export every event as JSON and
 * the history as CSV; import a backup after saying what it adds. A file the engine refuses is
 * told in the page's alert, and nothing changes.
 */
export function BackupPanel({
  client,
  rows,
  syncing,
  onError,
}: {
  client: EngineClient;
  /** Every counter here, archived ones too: to say which imported names are taken. */
  rows: ReadonlyMap<string, CounterRow> | undefined;
  /** A space is stored: the counters are on the sync server too. */
  syncing: boolean;
  onError: (message: string | undefined) => void;
}) {
  const [persisted, setPersisted] = useState<boolean>();
  const [pending, setPending] = useState<{ text: string; preview: ImportPreview }>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  const counted = (rows?.size ?? 0) > 0;
  useEffect(() => {
    // Asked again once a person has counted: the app asks the browser to keep the data then.
    // An answer of "no" never takes back the browser's "yes" to that request (it can come
    // first: app/keep-data.ts).
    void navigator.storage
      ?.persisted?.()
      .then((kept) => setPersisted((was) => was === true || kept))
      .catch(() => setPersisted((was) => was === true));
  }, [counted]);
  // The browser's answer to the app's request to keep the data, whenever it comes.
  useEffect(() => watchKept(() => setPersisted(true)), []);
  useEffect(() => {
    if (pending) dialog.current?.focus();
  }, [pending]);

  const day = () => new Date().toISOString().slice(0, 10);
  const act = async (what: string, work: () => Promise<void>) => {
    setBusy(true);
    try {
      await work();
    } catch (error) {
      onError(`${what}: ${reviveError(error).message}`);
    } finally {
      setBusy(false);
    }
  };

  /** Closes the import's dialog; focus goes back to the file field that opened it. */
  const closeImport = () => {
    setPending(undefined);
    focusWhenShown(() => input.current);
  };

  const choose = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (!file) return;
    setDone(undefined);
    // Before reading it: a file of gigabytes would take the tab down on the way.
    if (file.size > maxBackupBytes) {
      if (input.current) input.current.value = '';
      onError('This backup cannot be imported: the file is larger than 50 MB.');
      return;
    }
    void act('Could not import', async () => {
      try {
        const text = await file.text();
        onError(undefined);
        setPending({ text, preview: await client.previewImport(text) });
      } finally {
        if (input.current) input.current.value = '';
      }
    });
  };

  const where = syncing
    ? 'Your counters are on this device and on the sync server.'
    : `Your counters live only on this device${
        persisted
          ? ', and the browser keeps them.'
          : ': the browser may clear them if it runs short of space.'
      } Export a backup to keep a copy.`;
  // Only while an import is being previewed (this panel renders again whenever the list does).
  const clashes = useMemo(() => {
    if (!pending) return [];
    const taken = new Set([...(rows?.values() ?? [])].map((row) => nameKey(row.name)));
    return pending.preview.streams.filter(
      ({ stream, fresh, name }) =>
        fresh && stream.startsWith('counter-') && taken.has(nameKey(name)),
    );
  }, [pending, rows]);

  return (
    <section className="backup" aria-label="Backup">
      <p className="small muted" aria-label="Where your data lives">
        {where}
      </p>
      <div className="backup-row">
        <button
          type="button"
          disabled={busy}
          onClick={() =>
            void act('Could not export', async () =>
              download(
                await client.exportBackup(),
                `tally-backup-${day()}.json`,
                'application/json',
              ),
            )
          }
        >
          Export backup
        </button>
        <button
          type="button"
          className="link"
          disabled={busy}
          onClick={() =>
            void act('Could not export', async () =>
              download(await client.exportHistory(), `tally-history-${day()}.csv`, 'text/csv'),
            )
          }
        >
          Export history (CSV)
        </button>
        <label className="file">
          Import backup
          <input ref={input} type="file" accept=".json,application/json" onChange={choose} />
        </label>
        <span role="status" className="small muted">
          {done}
        </span>
      </div>
      {pending && (
        <div
          className="invite"
          role="dialog"
          aria-label="Import backup"
          tabIndex={-1}
          ref={dialog}
          onKeyDown={(event) => event.key === 'Escape' && closeImport()}
        >
          {pending.preview.events === 0 ? (
            <p>
              Everything in this backup is here already ({changes(pending.preview.known)}): there is
              nothing to add.
            </p>
          ) : (
            <>
              <p>
                Import {changes(pending.preview.events)} from this backup?
                {pending.preview.known > 0 &&
                  ` ${changes(pending.preview.known)} of it are here already.`}{' '}
                {syncing && 'They will sync to your other devices.'}
              </p>
              <ul className="small" aria-label="What the backup adds">
                {pending.preview.streams.map(({ stream, name, events, fresh }) => (
                  <li key={stream}>
                    {name}: {changes(events)}
                    {fresh ? ' (new here)' : ''}
                  </li>
                ))}
              </ul>
            </>
          )}
          {clashes.length > 0 && (
            <p className="small">
              A counter here already has the name{' '}
              {clashes.map(({ name }) => `“${name}”`).join(', ')}: both are kept, every count in
              them, and the one made later is renamed, like “Water (2)”.
            </p>
          )}
          {pending.preview.skipped.map(({ name, reason }) => (
            <p className="small" key={name}>
              Not imported: {name}, since {reason}
            </p>
          ))}
          <div className="invite-actions">
            {pending.preview.events > 0 && (
              <button
                type="button"
                disabled={busy}
                onClick={() =>
                  void act('Could not import', async () => {
                    const result = await client.importBackup(pending.text);
                    closeImport();
                    setDone(`Imported ${changes(result.events)}.`);
                  })
                }
              >
                Import
              </button>
            )}
            <button type="button" className="link" onClick={closeImport}>
              {pending.preview.events > 0 ? 'Cancel' : 'OK'}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
