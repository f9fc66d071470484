import { Toxiproxy } from 'toxiproxy-node-client';
import { CachectlError } from '../errors.js';
import type { Endpoint, ToxiproxyLink } from './types.js';

/**
 * Creating the Toxiproxy proxies ("links") in front of the memcached nodes, shared by the local
 * and the docker runtime so both create exactly the same links with the same errors.
 */

export interface CreateLinksOptions {
  /** Address Toxiproxy binds each link to, when it differs from link.listen.host: inside a bridge-
   *  networked container it must be 0.0.0.0 while users reach the published port on 127.0.0.1. */
  listenHost?: string;
}

/** One Toxiproxy proxy per memcached node, named after the node, listening on its toxi port. */
export async function createToxiproxyLinks(api: Endpoint, links: ToxiproxyLink[], options: CreateLinksOptions = {}): Promise<void> {
  const client = new Toxiproxy(`http://${api.host}:${api.port}`);
  for (const l of links) {
    const listen = `${options.listenHost ?? l.listen.host}:${l.listen.port}`;
    try {
      await client.createProxy({ name: l.name, listen, upstream: `${l.upstream.host}:${l.upstream.port}`, enabled: true });
    } catch (err) {
      throw new CachectlError('DEPENDENCY_FAILED', `Toxiproxy could not create the "${l.name}" proxy on ${listen}: ${(err as Error).message}`, {
        hint: `is port ${l.listen.port} in use? pick another (ports.${l.node.endsWith('master') ? 'toxiMaster' : 'toxiSlave'}) or use --free-ports`,
        details: { link: l.name, listen },
        cause: err,
      });
    }
  }
}
