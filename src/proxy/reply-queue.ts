import type { Socket } from 'node:net';
import { WriteBatcher } from './write-batcher.js';

/**
 * Keeps a client's replies in request order while backend answers arrive in any order.
 * Each request reserves a slot; finished head slots are written, batched per event-loop turn.
 * Reading from the client pauses while too many replies are owed (bounded memory per client).
 */
export interface Slot {
  done: boolean;
  out: Buffer | Buffer[] | null;
  close: boolean;
}

const MAX_OWED = 4096;
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

export class ReplyQueue {
  private slots: Slot[] = [];
  private head = 0;
  private readonly out: WriteBatcher;
  private paused = false;
  closing = false;

  constructor(private readonly socket: Socket) {
    this.out = new WriteBatcher(socket);
    socket.on('drain', () => this.maybeResume());
  }

  get owed(): number {
    return this.slots.length - this.head;
  }

  reserve(): Slot {
    const slot: Slot = { done: false, out: null, close: false };
    this.slots.push(slot);
    if (!this.paused && this.owed >= MAX_OWED) {
      this.paused = true;
      this.socket.pause();
    }
    return slot;
  }

  /** Reply now if nothing is owed before it (the common, in-order case), else queue it. */
  complete(slot: Slot, out: Buffer | Buffer[] | null, close = false): void {
    slot.done = true;
    slot.out = out;
    slot.close = close;
    if (this.slots[this.head] === slot) this.flush();
  }

  private flush(): void {
    const socket = this.socket;
    while (this.head < this.slots.length) {
      const s = this.slots[this.head];
      if (!s.done) break;
      this.slots[this.head] = undefined as unknown as Slot; // do not keep sent replies alive
      this.head++;
      if (s.out !== null && !socket.destroyed) {
        if (Array.isArray(s.out)) for (const b of s.out) this.out.write(b);
        else this.out.write(s.out);
      }
      if (s.close) {
        this.closing = true;
        this.out.flush();
        socket.end();
        this.slots = [];
        this.head = 0;
        return;
      }
    }
    if (this.head > 256 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    this.maybeResume();
  }

  private maybeResume(): void {
    if (this.paused && this.owed < MAX_OWED / 2 && this.socket.writableLength < MAX_UNSENT_BYTES && !this.closing) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** the client is not reading its replies: stop reading its requests */
  get backlogged(): boolean {
    return this.socket.writableLength + this.out.pendingBytes >= MAX_UNSENT_BYTES;
  }

  pauseForBacklog(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }
}
