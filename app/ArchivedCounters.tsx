import { CardAlert } from './CardAlert.tsx';
import { memo, useEffect, useRef, useState } from 'react';
import { reviveError } from '../core/errors.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import type { Run } from './App.tsx';
import type { EngineClient } from './engine-client.ts';
import { focusWhenShown } from './focus.ts';

/**
 * Archived counters, behind a disclosure: each can be restored (back into the list, with its
 * count) or deleted forever, after a confirmation, here and on every device of the space. A
 * refusal of either shows here, by the button pressed, not at the top of the page.
 */
function ArchivedCountersView({
  rows,
  run,
  client,
}: {
  rows: readonly CounterRow[];
  run: Run;
  client: EngineClient;
}) {
  const [open, setOpen] = useState(false);
  const [deleting, setDeleting] = useState<CounterRow>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const dialog = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    // The dialog takes focus, so a keyboard user lands on its question.
    if (deleting) dialog.current?.focus();
  }, [deleting]);

  const close = () => {
    setDeleting(undefined);
    focusWhenShown(() => toggle.current);
  };
  const remove = async (row: CounterRow) => {
    setBusy(true);
    try {
      await client.deleteForever(row.id);
      setDone(`“${row.name}” was deleted forever.`);
      setProblem(undefined);
    } catch (error) {
      setProblem(`Could not delete “${row.name}”: ${reviveError(error).message}`);
    } finally {
      setBusy(false);
      close();
    }
  };

  return (
    <section className="archived" aria-label="Archive">
      <button
        ref={toggle}
        type="button"
        className="link"
        data-archive-toggle
        aria-expanded={open}
        onClick={() => setOpen((shown) => !shown)}
      >
        Archived counters{' '}
        <span aria-hidden="true">
          ({rows.length}) {open ? '▴' : '▾'}
        </span>
      </button>
      <span role="status" className="small muted">
        {done}
      </span>
      <CardAlert
        problem={problem}
        about="archived counters"
        onDismiss={() => {
          setProblem(undefined);
          // This button goes with the message: focus goes back to the archive's toggle.
          focusWhenShown(() => toggle.current);
        }}
      />
      {open &&
        (rows.length === 0 ? (
          <p className="muted small">No archived counters.</p>
        ) : (
          <ul className="archived-list" aria-label="Archived counters">
            {rows.map((row) => (
              <li key={row.id} className="archived-row">
                <span className="archived-name">{row.name}</span>
                <span className="muted">{row.value}</span>
                <button
                  type="button"
                  aria-label={`Restore ${row.name}`}
                  onClick={async () => {
                    if (!(await run(row.id, { type: 'restore' }, setProblem))) return;
                    // Focus follows the counter back to its card (this button is gone).
                    focusWhenShown(() =>
                      document.querySelector<HTMLButtonElement>(
                        `[data-counter="${CSS.escape(row.id)}"] button.more`,
                      ),
                    );
                  }}
                >
                  Restore
                </button>
                <button
                  type="button"
                  className="link danger"
                  aria-label={`Delete ${row.name} forever`}
                  onClick={() => setDeleting(row)}
                >
                  {/* The visible word stays inside the accessible name (WCAG 2.5.3). */}
                  Delete…
                </button>
              </li>
            ))}
          </ul>
        ))}
      {deleting && (
        <div
          className="invite"
          role="dialog"
          aria-label={`Delete ${deleting.name} forever`}
          tabIndex={-1}
          ref={dialog}
          onKeyDown={(event) => event.key === 'Escape' && close()}
        >
          <p>
            Delete “{deleting.name}” forever? Its count and its whole history go from this device
            and from every device that syncs with it. This cannot be undone.
          </p>
          <div className="invite-actions">
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => void remove(deleting)}
            >
              Delete forever
            </button>
            <button type="button" className="link" onClick={close}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

/** Rendered again only when what it is given changes (not on every count in the list). */
export const ArchivedCounters = memo(ArchivedCountersView);
