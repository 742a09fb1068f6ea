import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { deviceNameProblem } from '../core/device-name.ts';
import type { DevicesResponse } from '../core/protocol.ts';
import { reviveError } from '../core/errors.ts';
import type { EngineClient } from './engine-client.ts';
import { focusWhenShown } from './focus.ts';

/**
 * How often the list is read again while it is shown (ms): a device that left, or was removed
 * from another one, goes from the list within about this long. One small request a minute per
 * device showing it; none while the page is out of sight.
 */
const rereadMs = 60_000;
/** A page brought back to front (focus, visibility) reads the list again, at most this often. */
const leastBetweenMs = 5_000;

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
  const [problem, setProblem] = useState<string>();
  const renameButton = useRef<HTMLButtonElement>(null);
  const loadedAt = useRef(Number.NEGATIVE_INFINITY);
  const shown = useRef(false);
  const load = useCallback(() => {
    loadedAt.current = performance.now();
    return client.devices().then(
      (devices) => {
        shown.current = true;
        setList(devices);
      },
      (error: unknown) => {
        // A list on screen stays while a newer one cannot be read: the sync status says why.
        if (!shown.current) onError(`Could not list devices: ${reviveError(error).message}`);
      },
    );
  }, [client, onError]);
  useEffect(() => void load(), [load, version]);
  // Other devices leave, or are removed from another one, without this one being told: the list
  // is read again when the page comes back to front, and now and then while it is in sight.
  useEffect(() => {
    const again = () => {
      if (document.visibilityState !== 'visible') return;
      if (performance.now() - loadedAt.current < leastBetweenMs) return;
      void load();
    };
    const timer = setInterval(again, rereadMs);
    window.addEventListener('focus', again);
    document.addEventListener('visibilitychange', again);
    return () => {
      clearInterval(timer);
      window.removeEventListener('focus', again);
      document.removeEventListener('visibilitychange', again);
    };
  }, [load]);
  if (!list) return null;
  const self = list.devices.find((device) => device.id === list.self);
  /** Closes the rename form; focus goes back to the Rename button, not to the page. */
  const stopRenaming = () => {
    setRenaming(false);
    setProblem(undefined);
    focusWhenShown(() => renameButton.current);
  };
  const rename = async (event: FormEvent) => {
    event.preventDefault();
    // Checked here as a counter's name is: a sentence beside the field, nothing sent.
    const wrong = deviceNameProblem(draft);
    setProblem(wrong);
    if (wrong) return;
    try {
      await client.renameDevice(draft);
      stopRenaming();
      await load();
    } catch (error) {
      setProblem(reviveError(error).message);
    }
  };
  return (
    <section className="devices" aria-label="Devices">
      <h2>Devices</h2>
      <ul>
        {list.devices.map((device) => (
          <li key={device.id}>
            {device.id === list.self && renaming ? (
              <form
                className="rename"
                noValidate
                onSubmit={rename}
                onKeyDown={(event) => event.key === 'Escape' && stopRenaming()}
              >
                <input
                  aria-label="Name of this device"
                  value={draft}
                  maxLength={60}
                  onChange={(event) => {
                    setDraft(event.target.value);
                    setProblem(undefined);
                  }}
                  aria-invalid={problem ? true : undefined}
                  aria-describedby={problem ? 'device-name-problem' : undefined}
                  autoFocus
                />
                <button type="submit">Save</button>
                <button type="button" className="link" onClick={stopRenaming}>
                  Cancel
                </button>
                <span id="device-name-problem" className="small field-error" aria-live="polite">
                  {problem}
                </span>
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
                  ref={renameButton}
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
                      onError(`Could not remove: ${reviveError(error).message}`),
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
