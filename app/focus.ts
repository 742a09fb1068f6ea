/**
 * Moves keyboard focus to an element as soon as the page shows it.
 *
 * A command's answer and the render that shows its result travel separately (the answer over
 * the engine's port, the rows in its commit notice), so right after `await run(…)` the element
 * focus should go to may not exist yet. One animation frame is not enough on a busy machine;
 * this looks once a frame until `find` returns a connected element, then focuses it, and gives
 * up after `timeoutMs` (it may never be shown: a virtual list renders only what is in view).
 */
export function focusWhenShown(
  find: () => HTMLElement | null | undefined,
  timeoutMs = 3_000,
): void {
  const started = performance.now();
  const attempt = () => {
    const element = find();
    if (element?.isConnected) element.focus();
    else if (performance.now() - started < timeoutMs) requestAnimationFrame(attempt);
  };
  requestAnimationFrame(attempt);
}
