import type { Socket } from 'node:net';

/**
 * Collects everything written to a socket during one event-loop turn and sends it with a single
 * write at the end of the turn (setImmediate runs after all sockets that were ready in this poll
 * phase were read). One syscall per socket per turn instead of one per request or reply part:
 * the main cost in a Node proxy is the per-write syscall, not parsing.
 */
const COPY_LIMIT = 64 * 1024;

// One setImmediate for every socket that has something to send this turn.
let dirty: WriteBatcher[] = [];
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  const batch = dirty;
  dirty = [];
  for (const w of batch) w.flush();
}

export class WriteBatcher {
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly socket: Socket) {}

  write(buf: Buffer): void {
    this.parts.push(buf);
    this.bytes += buf.length;
    if (!this.scheduled) {
      this.scheduled = true;
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  readonly flush = (): void => {
    this.scheduled = false;
    const parts = this.parts;
    if (parts.length === 0) return;
    const bytes = this.bytes;
    this.parts = [];
    this.bytes = 0;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (parts.length === 1) {
      socket.write(parts[0]);
    } else if (bytes <= COPY_LIMIT) {
      socket.write(Buffer.concat(parts, bytes));
    } else {
      // big values: let the kernel gather them (writev) rather than copying megabytes
      socket.cork();
      for (const p of parts) socket.write(p);
      socket.uncork();
    }
  };
}
