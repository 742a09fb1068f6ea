/**
 * Removed and departed devices, told to this instance's open live feeds at once: the instance
 * that handled the removal ends that device's streams within the request, and every other
 * instance when the stream's lease is next renewed (a third of the lease time).
 */
export class Revocations {
  private readonly watchers = new Map<string, Set<() => void>>();

  /** Calls `ended` when `device` of `space` is revoked here; answers a function that stops it. */
  watch(space: string, device: string, ended: () => void): () => void {
    const key = `${space}\u0000${device}`;
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(ended);
    return () => {
      set.delete(ended);
      if (set.size === 0) this.watchers.delete(key);
    };
  }

  revoke(space: string, device: string): void {
    for (const ended of [...(this.watchers.get(`${space}\u0000${device}`) ?? [])]) ended();
  }
}
