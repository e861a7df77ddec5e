/**
 * Whether `call` answers `true` within `timeoutMs`: `false` on a late answer or any failure, so a
 * health probe never hangs and never throws. The deadline is checked only after one more pass of
 * the event loop's poll phase: when this process itself was blocked past the deadline (a busy
 * machine, a long GC), the timer runs first although the answer already sits in the socket, and
 * the answer must win then.
 */
export async function answersWithin(call: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => setImmediate(() => reject(new Error(`no answer within ${timeoutMs} ms`))), timeoutMs);
    });
    return await Promise.race([call(), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
