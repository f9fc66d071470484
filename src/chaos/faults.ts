import { Toxiproxy, type ToxicType, type ToxicDirection } from 'toxiproxy-node-client';
import { CachectlError, usageError } from '../errors.js';

/**
 * The fault library. Network faults are Toxiproxy toxics (or a disabled proxy) on one link;
 * crash faults kill -9 a node through the runtime and restart it empty on revert.
 * Every fault has an `apply` and a `revert`; the FaultGuard (guard.ts) makes sure revert runs.
 */

export type Direction = 'upstream' | 'downstream';

interface LinkFaultBase {
  /** the Toxiproxy proxy name ("master", "slave", "chaos-master-proxy-1"...) */
  link: string;
  /** upstream = client -> server bytes (requests), downstream = server -> client (replies) */
  direction?: Direction;
  /** share of connections affected, 0..1 (Toxiproxy toxicity) */
  toxicity?: number;
}

export type FaultSpec =
  /** the link refuses and drops every connection (Toxiproxy proxy disabled): the node keeps its data */
  | { kind: 'link-down'; link: string }
  /** delay every chunk by latencyMs +/- jitterMs */
  | (LinkFaultBase & { kind: 'latency'; latencyMs: number; jitterMs?: number })
  /** stop all data; close the connection after timeoutMs (0 = hold until reverted) */
  | (LinkFaultBase & { kind: 'timeout'; timeoutMs: number })
  /** TCP RST after timeoutMs */
  | (LinkFaultBase & { kind: 'reset-peer'; timeoutMs: number })
  /** cut data into small packets with a delay between them */
  | (LinkFaultBase & { kind: 'slicer'; averageSize: number; sizeVariation?: number; delayUs?: number })
  /** close the connection after `bytes` bytes */
  | (LinkFaultBase & { kind: 'limit-data'; bytes: number })
  /** limit throughput to rateKBps KB/s */
  | (LinkFaultBase & { kind: 'bandwidth'; rateKBps: number })
  /** kill -9 the node; revert starts it again (memcached comes back empty) */
  | { kind: 'crash'; node: string };

export type FaultKind = FaultSpec['kind'];
export const FAULT_KINDS: readonly FaultKind[] = ['link-down', 'latency', 'timeout', 'reset-peer', 'slicer', 'limit-data', 'bandwidth', 'crash'];

/** A fault that was applied, with what revert needs. */
export interface AppliedFault {
  id: string;
  spec: FaultSpec;
  /** Toxiproxy toxic name, for toxic faults */
  toxicName?: string;
  description: string;
}

/** Kill and restart cluster nodes (the runtime behind an interface, so tests can swap it). */
export interface NodeController {
  kill(node: string): Promise<void>;
  start(node: string): Promise<void>;
  /** is the node's process/container alive? (`chaos reset` restarts nodes that are not) */
  isRunning(node: string): Promise<boolean>;
}

export interface ResetReport {
  toxicsRemoved: string[];
  linksEnabled: string[];
  linksRemoved: string[];
  nodesRestarted: string[];
}

export interface FaultInjector {
  apply(fault: FaultSpec): Promise<AppliedFault>;
  revert(applied: AppliedFault): Promise<void>;
  /** Clear every toxic, enable every link, remove links chaos created, restart nodes that are down. */
  resetAll(): Promise<ResetReport>;
}

export function describeFault(spec: FaultSpec): string {
  const dir = 'direction' in spec && spec.direction ? ` ${spec.direction}` : '';
  switch (spec.kind) {
    case 'link-down':
      return `link ${spec.link} down (Toxiproxy proxy disabled)`;
    case 'latency':
      return `latency ${spec.latencyMs}±${spec.jitterMs ?? 0} ms on ${spec.link}${dir}`;
    case 'timeout':
      return `timeout ${spec.timeoutMs} ms (data stopped) on ${spec.link}${dir}`;
    case 'reset-peer':
      return `reset_peer after ${spec.timeoutMs} ms on ${spec.link}${dir}`;
    case 'slicer':
      return `slicer ${spec.averageSize} B packets on ${spec.link}${dir}`;
    case 'limit-data':
      return `limit_data ${spec.bytes} B on ${spec.link}${dir}`;
    case 'bandwidth':
      return `bandwidth ${spec.rateKBps} KB/s on ${spec.link}${dir}`;
    case 'crash':
      return `crash ${spec.node} (kill -9, restart empty)`;
  }
}

/** Prefix of every toxic and extra link chaos creates, so `chaos reset` can tell them apart. */
export const CHAOS_PREFIX = 'chaos-';

function toxicBody(spec: Exclude<FaultSpec, { kind: 'link-down' } | { kind: 'crash' }>, name: string): {
  name: string;
  type: ToxicType;
  stream: ToxicDirection;
  toxicity: number;
  attributes: Record<string, number>;
} {
  const stream: ToxicDirection = spec.direction ?? 'downstream';
  const toxicity = spec.toxicity ?? 1;
  if (!(toxicity >= 0 && toxicity <= 1)) throw usageError(`toxicity must be between 0 and 1, got ${toxicity}`);
  const base = { name, stream, toxicity };
  switch (spec.kind) {
    case 'latency':
      return { ...base, type: 'latency', attributes: { latency: spec.latencyMs, jitter: spec.jitterMs ?? 0 } };
    case 'timeout':
      return { ...base, type: 'timeout', attributes: { timeout: spec.timeoutMs } };
    case 'reset-peer':
      return { ...base, type: 'reset_peer', attributes: { timeout: spec.timeoutMs } };
    case 'slicer':
      return {
        ...base,
        type: 'slicer',
        attributes: { average_size: spec.averageSize, size_variation: spec.sizeVariation ?? 0, delay: spec.delayUs ?? 0 },
      };
    case 'limit-data':
      return { ...base, type: 'limit_data', attributes: { bytes: spec.bytes } };
    case 'bandwidth':
      return { ...base, type: 'bandwidth', attributes: { rate: spec.rateKBps } };
  }
}

function toxiError(what: string, apiUrl: string, err: unknown): CachectlError {
  return new CachectlError('DEPENDENCY_UNREACHABLE', `Toxiproxy at ${apiUrl}: ${what} failed: ${(err as Error).message}`, {
    hint: 'is the cluster up? run `cachectl status`, then `cachectl chaos reset` to clear leftovers',
    details: { apiUrl },
    cause: err,
  });
}

interface RawToxic {
  name: string;
}
interface RawProxy {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: RawToxic[];
}

/** The real injector: Toxiproxy through toxiproxy-node-client, crashes through the runtime. */
export class ToxiproxyFaultInjector implements FaultInjector {
  private readonly client: Toxiproxy;
  private counter = 0;

  constructor(
    private readonly apiUrl: string,
    private readonly nodes?: NodeController,
    /** the links `up` created; chaos-created extra links (CHAOS_PREFIX) are removed by resetAll */
    private readonly knownNodes: string[] = [],
  ) {
    this.client = new Toxiproxy(apiUrl);
  }

  async apply(spec: FaultSpec): Promise<AppliedFault> {
    const id = `${CHAOS_PREFIX}${spec.kind}-${process.pid}-${++this.counter}`;
    const description = describeFault(spec);
    if (spec.kind === 'crash') {
      if (!this.nodes) throw new CachectlError('UNSUPPORTED', 'crash faults need the cluster runtime', { hint: 'run against a cluster started by `cachectl up`' });
      await this.nodes.kill(spec.node);
      return { id, spec, description };
    }
    const proxy = await this.client.get(spec.link).catch((err: unknown) => {
      throw new CachectlError('USAGE', `no Toxiproxy link named "${spec.link}" at ${this.apiUrl}`, {
        hint: 'links are named after the nodes they front: "master", "slave" (see `cachectl status`)',
        details: { link: spec.link, error: (err as Error).message },
      });
    });
    if (spec.kind === 'link-down') {
      await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream }).catch((err: unknown) => {
        throw toxiError(`disabling link ${spec.link}`, this.apiUrl, err);
      });
      return { id, spec, description };
    }
    const body = toxicBody(spec, id);
    await proxy.addToxic(body).catch((err: unknown) => {
      throw toxiError(`adding ${body.type} toxic to ${spec.link}`, this.apiUrl, err);
    });
    return { id, spec, toxicName: id, description };
  }

  async revert(applied: AppliedFault): Promise<void> {
    const spec = applied.spec;
    if (spec.kind === 'crash') {
      await this.nodes!.start(spec.node);
      return;
    }
    const proxy = await this.client.get(spec.link).catch((err: unknown) => {
      throw toxiError(`reading link ${spec.link}`, this.apiUrl, err);
    });
    if (spec.kind === 'link-down') {
      await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream }).catch((err: unknown) => {
        throw toxiError(`enabling link ${spec.link}`, this.apiUrl, err);
      });
      return;
    }
    try {
      await this.client.getApi().delete(`${this.apiUrl}/proxies/${encodeURIComponent(spec.link)}/toxics/${encodeURIComponent(applied.toxicName!)}`);
    } catch (err) {
      // Already gone (e.g. `chaos reset` ran) is a successful revert.
      const current = await this.listLinks();
      if (current.find((l) => l.name === spec.link)?.toxics.some((t) => t.name === applied.toxicName)) {
        throw toxiError(`removing toxic ${applied.toxicName} from ${spec.link}`, this.apiUrl, err);
      }
    }
  }

  async listLinks(): Promise<RawProxy[]> {
    try {
      const res = await this.client.getApi().get<Record<string, RawProxy>>(`${this.apiUrl}/proxies`);
      return Object.values(res.data ?? {});
    } catch (err) {
      throw toxiError('listing links', this.apiUrl, err);
    }
  }

  /** Create (or replace) an extra link chaos needs, e.g. a second path to the master for one proxy. */
  async createLink(name: string, listen: string, upstream: string): Promise<void> {
    if (!name.startsWith(CHAOS_PREFIX)) throw new CachectlError('INTERNAL', `chaos links must be named ${CHAOS_PREFIX}*`);
    const existing = (await this.listLinks()).find((l) => l.name === name);
    if (existing) await this.removeLink(name);
    try {
      await this.client.createProxy({ name, listen, upstream, enabled: true });
    } catch (err) {
      throw toxiError(`creating link ${name} (${listen} -> ${upstream})`, this.apiUrl, err);
    }
  }

  async removeLink(name: string): Promise<void> {
    try {
      await this.client.getApi().delete(`${this.apiUrl}/proxies/${encodeURIComponent(name)}`);
    } catch (err) {
      if ((await this.listLinks()).some((l) => l.name === name)) throw toxiError(`removing link ${name}`, this.apiUrl, err);
    }
  }

  async resetAll(): Promise<ResetReport> {
    const report: ResetReport = { toxicsRemoved: [], linksEnabled: [], linksRemoved: [], nodesRestarted: [] };
    const links = await this.listLinks();
    for (const link of links) {
      if (link.name.startsWith(CHAOS_PREFIX)) {
        await this.removeLink(link.name);
        report.linksRemoved.push(link.name);
        continue;
      }
      for (const toxic of link.toxics ?? []) {
        await this.client.getApi().delete(`${this.apiUrl}/proxies/${encodeURIComponent(link.name)}/toxics/${encodeURIComponent(toxic.name)}`);
        report.toxicsRemoved.push(`${link.name}/${toxic.name}`);
      }
      if (!link.enabled) {
        const proxy = await this.client.get(link.name);
        await proxy.update({ enabled: true, listen: link.listen, upstream: link.upstream });
        report.linksEnabled.push(link.name);
      }
    }
    if (this.nodes) {
      for (const node of this.knownNodes) {
        if (!(await this.nodes.isRunning(node))) {
          await this.nodes.start(node);
          report.nodesRestarted.push(node);
        }
      }
    }
    return report;
  }
}
