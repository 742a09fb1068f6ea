import { Workbox } from 'workbox-window';

export type UpdateOffer = {
  /** Lets the waiting version take over; every open tab then reloads onto it. */
  readonly accept: () => void;
};

/**
 * Registers the service worker (a production build only) and reports when a new version waits.
 * Accepting tells the waiting worker to skip waiting; it claims every tab, and each tab reloads
 * once its own commands are answered, so nothing in flight is lost. The new version's engine
 * then takes the writer lock from the old one (worker/writer-lock.ts).
 */
export function registerServiceWorker(options: {
  onUpdate: (offer: UpdateOffer) => void;
  beforeReload: () => Promise<void>;
}): void {
  if (!('serviceWorker' in navigator) || !import.meta.env.PROD) return;
  const workbox = new Workbox('/sw.js');
  // The first install also changes the controller (it claims the page): no reason to reload.
  let controller = navigator.serviceWorker.controller;
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    const previous = controller;
    controller = navigator.serviceWorker.controller;
    if (!previous || reloading) return;
    reloading = true;
    void options.beforeReload().finally(() => location.reload());
  });
  workbox.addEventListener('waiting', () =>
    options.onUpdate({ accept: () => workbox.messageSkipWaiting() }),
  );
  workbox
    .register()
    .then((registration) => {
      if (!registration) return;
      // Browsers check on navigation; a tab left open checks when shown again, and hourly.
      const check = () => void registration.update().catch(() => undefined);
      document.addEventListener(
        'visibilitychange',
        () => document.visibilityState === 'visible' && check(),
      );
      setInterval(check, 60 * 60 * 1000);
    })
    .catch((error: unknown) =>
      // Refused (a private window, a browser's policy, service workers blocked): the app works as
      // it is, it just does not start offline; nothing for the person to do here.
      console.warn('Tally: the app is not installed for offline use.', error),
    );
}
