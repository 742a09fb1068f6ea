import type { HistoryEntry } from '../core/engine-api.ts';
import type { EngineClient } from './engine-client.ts';
import { useHistory } from './use-engine.ts';

const describe = (entry: HistoryEntry): string => {
  switch (entry.type) {
    case 'Created':
      return `Created as “${entry.name}”`;
    case 'Incremented':
      return 'Incremented';
    case 'Decremented':
      return 'Decremented';
    case 'Renamed':
      return `Renamed to “${entry.name}”`;
  }
};

const time = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

export function HistoryPanel({
  client,
  stream,
  name,
}: {
  client: EngineClient;
  stream: string;
  name: string;
}) {
  const entries = useHistory(client, stream);
  if (!entries) return <p className="muted small">Loading history…</p>;
  return (
    <ol className="history" aria-label={`${name} history`}>
      {entries.map((entry) => (
        <li key={entry.version} data-version={entry.version}>
          <span className="v">v{entry.version}</span>
          <span className="what">{describe(entry)}</span>
          <span className="after" aria-label="value after">
            {entry.value}
          </span>
          <time dateTime={new Date(entry.time).toISOString()}>{time.format(entry.time)}</time>
        </li>
      ))}
    </ol>
  );
}
