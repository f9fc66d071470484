import { setFlagsFromString } from 'node:v8';

/**
 * Start V8's background (incremental) marking only when the old generation is 90% of the way to
 * its limit.
 *
 * Why: by default V8 also starts marking whenever the room left in the old generation is smaller
 * than the young generation's capacity. A proxy allocates fast but keeps little, so its live old
 * generation stays small (~8 MB once the CLI has loaded) and that rule can hold all the time:
 * `--trace-incremental-marking` showed marking started by a task at 8 MB of a 32 MB limit, and
 * `--trace-gc` a full mark-compact about every 60 ms. Measured with memaslap through `cachectl
 * proxy` (1 worker, 6 s runs): 48-67 mark-compacts and 13-14 us of proxy CPU per request without
 * these triggers, 1 mark-compact and ~10.5 us with them (the storm does not start in every run,
 * which is why the unset runs sometimes measure ~11 us too). The heap limit itself is unchanged:
 * V8 still collects fully at the limit, so memory stays bounded.
 *
 * Set at run time because the proxy is started in many ways (`cachectl proxy`, `up`, Docker, the
 * cluster workers) and V8 reads these two flags on every allocation-limit check. A V8 that does not
 * know them prints one line to stderr and carries on with its defaults.
 */
export const PROXY_GC_FLAGS = '--incremental-marking-soft-trigger=90 --incremental-marking-hard-trigger=95';

let applied = false;
/** once per process that serves clients (the in-process proxy, each cluster worker) */
export function tuneGcForProxy(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(PROXY_GC_FLAGS);
}
