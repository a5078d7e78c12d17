/** The longest delay `setTimeout` takes: it fires at once for longer ones. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * A timer that keeps no process alive (pending retries and deadlines must not hold up an exit),
 * its delay clamped to what `setTimeout` takes, 0 to 2^31-1 ms: a caller that waits longer arms
 * another when it fires.
 */
export function backgroundTimer(callback: () => void, delayMs: number): NodeJS.Timeout {
  const timer = setTimeout(callback, Math.min(Math.max(delayMs, 0), MAX_TIMER_DELAY));
  timer.unref();
  return timer;
}
