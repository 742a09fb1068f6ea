/**
 * Asks the browser, once a person has counted something, to keep Tally's storage instead of
 * evicting it when space runs low: the one copy a device that never syncs has. Asked once a page;
 * the browser's answer is told to whoever watches it (the backup panel says where data lives).
 */
let asked = false;
let granted = false;
const watchers = new Set<() => void>();

export function keepData(): void {
  if (asked) return;
  asked = true;
  void navigator.storage
    ?.persist?.()
    .then((kept) => {
      if (!kept) return;
      granted = true;
      for (const onGranted of [...watchers]) onGranted();
    })
    .catch(() => undefined);
}

/**
 * Calls `onGranted` once the browser has said it keeps the data (now, if it has already said
 * so); answers a function that stops watching.
 */
export function watchKept(onGranted: () => void): () => void {
  if (granted) onGranted();
  watchers.add(onGranted);
  return () => void watchers.delete(onGranted);
}
