import { useState, type FormEvent } from 'react';
import type { CounterRow } from '../core/counter-projections.ts';
import type { Run } from './App.tsx';
import type { EngineClient } from './engine-client.ts';
import { HistoryPanel } from './HistoryPanel.tsx';

export function CounterCard({
  row,
  run,
  client,
}: {
  row: CounterRow;
  run: Run;
  client: EngineClient;
}) {
  const [renaming, setRenaming] = useState(false);
  const [draft, setDraft] = useState(row.name);
  const [showHistory, setShowHistory] = useState(false);
  const { id, name, value } = row;

  const rename = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(id, { type: 'rename', name: draft })) setRenaming(false);
  };

  return (
    <li className="card">
      <div className="card-head">
        {renaming ? (
          <form
            className="rename"
            onSubmit={rename}
            onKeyDown={(e) => e.key === 'Escape' && setRenaming(false)}
          >
            <input
              aria-label={`New name for ${name}`}
              value={draft}
              onChange={(event) => setDraft(event.target.value)}
              maxLength={60}
              autoFocus
              required
            />
            <button type="submit">Save</button>
            <button type="button" className="link" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <h2 className="name">{name}</h2>
        )}
      </div>
      <output className="value" aria-label={`${name} count`} aria-live="polite">
        {value}
      </output>
      <div className="actions">
        <button
          type="button"
          className="round"
          aria-label={`Decrement ${name}`}
          onClick={() => void run(id, { type: 'decrement' })}
        >
          −
        </button>
        <button
          type="button"
          className="round primary"
          aria-label={`Increment ${name}`}
          onClick={() => void run(id, { type: 'increment' })}
        >
          +
        </button>
        <button
          type="button"
          className="round"
          aria-label={`Add 2 to ${name}`}
          onClick={() => void run(id, [{ type: 'increment' }, { type: 'increment' }])}
        >
          +2
        </button>
      </div>
      <div className="card-foot">
        <button
          type="button"
          className="link"
          aria-label={`Rename ${name}`}
          onClick={() => {
            setDraft(name);
            setRenaming(true);
          }}
        >
          Rename
        </button>
        <button
          type="button"
          className="link"
          aria-expanded={showHistory}
          aria-label={`History of ${name}`}
          onClick={() => setShowHistory((shown) => !shown)}
        >
          {showHistory ? 'Hide history' : 'History'}
        </button>
      </div>
      {showHistory && <HistoryPanel client={client} stream={id} name={name} />}
    </li>
  );
}
