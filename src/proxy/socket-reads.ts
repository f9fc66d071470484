import { Socket, createConnection, type NetConnectOpts } from 'node:net';

/**
 * Socket reads without the stream machinery.
 *
 * Node's default read path pushes every chunk through a Readable (push, 'data' emit, nextTick
 * bookkeeping) after allocating a fresh 64 KiB buffer for it. With `onread` libuv reads into one
 * buffer we own and calls us directly: `npm run bench:proxy` measured a plain Node byte pipe at
 * ~61k ops/s the default way and ~72k with `onread`, even though we still copy each chunk.
 *
 * The copy is required: one read buffer serves every socket of this process (reads are delivered
 * one at a time on the JS thread), and decoders keep views of a chunk past the callback (partial
 * frames, values waiting for the batched write).
 */
const READ_BUFFER_BYTES = 64 * 1024;
const sharedReadBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

export type ChunkHandler = (chunk: Buffer) => void;

function onread(onChunk: ChunkHandler): NonNullable<NetConnectOpts['onread']> {
  return {
    buffer: sharedReadBuffer,
    callback: (bytes: number, buf: Uint8Array): boolean => {
      onChunk(Buffer.from(buf.subarray(0, bytes)));
      return true;
    },
  };
}

/** an outgoing connection whose chunks go straight to onChunk */
export function connectWithReads(options: { host: string; port: number }, onChunk: ChunkHandler): Socket {
  return createConnection({ host: options.host, port: options.port, onread: onread(onChunk) });
}

interface SocketInternals {
  _handle?: { useUserBuffer?: unknown } | null;
}

/**
 * Take over a socket the server accepted with `pauseOnConnect: true` (nothing read yet) so its
 * chunks go straight to onChunk. net.Server has no `onread` option, so the accepted handle is
 * moved into a new Socket that has one (the `handle` option is what Node itself uses to hand
 * sockets between processes). The server's connection count no longer includes it: the caller
 * tracks and bounds its connections itself. Where the handle cannot be moved (another Node
 * internals layout), the accepted socket is used as it is, with a 'data' listener.
 */
export function adoptAccepted(accepted: Socket, onChunk: ChunkHandler): Socket {
  const internals = accepted as unknown as SocketInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') {
    accepted.on('data', onChunk);
    accepted.resume();
    return accepted;
  }
  internals._handle = null;
  // destroys only the JS wrapper (it has no handle now); this also releases the server's count
  accepted.destroy();
  const socket = new Socket({ handle, onread: onread(onChunk) } as ConstructorParameters<typeof Socket>[0]);
  socket.setNoDelay(true);
  return socket;
}
