const LOCK = 'tally-writer';
const CHANNEL = 'tally-writer';

type Message = { readonly type: 'hello' | 'newer'; readonly build: string };

const isMessage = (data: unknown): data is Message =>
  typeof data === 'object' &&
  data !== null &&
  ((data as Message).type === 'hello' || (data as Message).type === 'newer') &&
  typeof (data as Message).build === 'string';

/**
 * Exactly one engine writes a browser profile's store. After an update, the old engine (still
 * serving old tabs) and the new one would both want to: the exclusive Web Lock makes the new one
 * wait, and the hello on a BroadcastChannel makes the old one finish what it took, stop, and
 * release. Builds compare as strings (ISO build times), so the newer build always wins.
 */
export class WriterLock {
  private release_: (() => void) | undefined;
  private readonly granted: Promise<void>;
  private readonly channel: BroadcastChannel | undefined;

  constructor(
    private readonly build: string,
    onSuperseded: () => void,
  ) {
    if (typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(CHANNEL);
      this.channel.onmessage = ({ data }: MessageEvent<unknown>) => {
        if (!isMessage(data) || data.build === build) return;
        if (data.build > build) onSuperseded();
        else if (data.type === 'hello')
          this.channel?.postMessage({ type: 'newer', build } satisfies Message);
      };
      this.channel.postMessage({ type: 'hello', build } satisfies Message);
    }
    this.granted =
      typeof navigator !== 'undefined' && navigator.locks
        ? new Promise<void>((granted) => {
            void navigator.locks.request(LOCK, { mode: 'exclusive' }, () => {
              granted();
              return new Promise<void>((release) => (this.release_ = release));
            });
          })
        : Promise.resolve();
  }

  acquired(): Promise<void> {
    return this.granted;
  }

  release(): void {
    this.channel?.close();
    this.release_?.();
  }
}
