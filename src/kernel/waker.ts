/**
 * The sleep of a loop that polls a source and is woken when the source announces news (the event
 * store's `onAppended`): news ends the current sleep, or makes the next one return at once.
 */
export function createWaker() {
  let pending = false;
  let stopped = false;
  let wake: (() => void) | undefined;
  return {
    get stopped(): boolean {
      return stopped;
    },
    /** News arrived. */
    notify(): void {
      pending = true;
      wake?.();
    },
    /** Forgets the news (at the start of a pass that will read everything there is). */
    clear(): void {
      pending = false;
    },
    /** Waits up to `ms`; at once when news is pending or after `stop`. Never keeps the process alive. */
    sleep(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        if (stopped || pending) return resolve();
        const timer = setTimeout(done, ms).unref();
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    /** Ends the current sleep for good. */
    stop(): void {
      stopped = true;
      wake?.();
    },
  };
}

export type Waker = ReturnType<typeof createWaker>;
