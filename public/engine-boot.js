/* global document, window, SharedWorker */
// The engine's first step (docs/architecture.md, "The path of one command"). index.html runs this
// classic script while the page is still being parsed, before the app's module script (which
// waits for the parse to finish, and for the UI's preloaded chunk to compile): Chromium starts
// the SharedWorker, which loads the engine and opens the database, that much sooner. The app's
// first script (app/main.ts) then connects to this same worker: same URL, same name (both given
// by vite.config.ts `bootEngine`), same type.
(() => {
  const data = document.currentScript ? document.currentScript.dataset : {};
  const url = data.engine;
  const name = data.name;
  // No engine on an insecure origin (app/InsecureOrigin.tsx says why) or without SharedWorker
  // (the leader tab's Worker runs it: app/leader-client.ts).
  if (!url || !name || !window.isSecureContext || typeof SharedWorker !== 'function') return;
  try {
    // Only the start is wanted here: this page's own connection is made by app/main.ts.
    new SharedWorker(url, { type: 'module', name }).port.close();
  } catch {
    // app/main.ts makes the same call and reports what fails.
  }
})();
