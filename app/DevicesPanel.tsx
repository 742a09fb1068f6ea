import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { DevicesResponse } from '../core/protocol.ts';
import type { EngineClient } from './engine-client.ts';

/**
 * The space's devices: this one marked, renamable; every other one removable (with a
 * confirmation). Removing revokes that device's token everywhere; it keeps its counters.
 */
export function DevicesPanel({
  client,
  onError,
  version,
}: {
  client: EngineClient;
  onError: (message: string) => void;
  /** Changes when the list may have changed (a device joined through this one). */
  version: number;
}) {
  const [list, setList] = useState<DevicesResponse>();
  const [renaming, setRenaming] = useState(false);
  const [draft, setDraft] = useState('');
  const load = useCallback(
    () =>
      client
        .devices()
        .then(setList, (error: unknown) =>
          onError(`Could not list devices: ${(error as Error).message}`),
        ),
    [client, onError],
  );
  useEffect(() => void load(), [load, version]);
  if (!list) return null;
  const self = list.devices.find((device) => device.id === list.self);
  const rename = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await client.renameDevice(draft);
      setRenaming(false);
      await load();
    } catch (error) {
      onError(`Could not rename: ${(error as Error).message}`);
    }
  };
  return (
    <section className="devices" aria-label="Devices">
      <h2>Devices</h2>
      <ul>
        {list.devices.map((device) => (
          <li key={device.id}>
            {device.id === list.self && renaming ? (
              <form className="rename" onSubmit={rename}>
                <input
                  aria-label="Name of this device"
                  value={draft}
                  maxLength={60}
                  onChange={(event) => setDraft(event.target.value)}
                  autoFocus
                  required
                />
                <button type="submit">Save</button>
                <button type="button" className="link" onClick={() => setRenaming(false)}>
                  Cancel
                </button>
              </form>
            ) : (
              <span>
                {device.name}
                {device.id === list.self && <strong> · This device</strong>}
              </span>
            )}
            {device.id === list.self ? (
              !renaming && (
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    setDraft(self?.name ?? '');
                    setRenaming(true);
                  }}
                >
                  Rename
                </button>
              )
            ) : (
              <button
                type="button"
                className="link"
                aria-label={`Remove ${device.name}`}
                onClick={() => {
                  if (!confirm(`Remove ${device.name} from this space? It keeps its counters.`))
                    return;
                  void client
                    .removeDevice(device.id)
                    .then(load)
                    .catch((error: unknown) =>
                      onError(`Could not remove: ${(error as Error).message}`),
                    );
                }}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
