/**
 * Runs the cachectl proxy exactly as `cachectl proxy` does (same flags, same library call),
 * without needing `npm run build` first: `node --import tsx bench/proxy-server.ts --port ...`.
 */
import { parseArgs } from 'node:util';
import { runProxyCommand } from '../src/proxy/cli.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    master: { type: 'string' },
    slave: { type: 'string' },
    replication: { type: 'string' },
    'timeout-ms': { type: 'string' },
  },
});

await runProxyCommand(
  {
    name: values.name ?? 'bench-proxy',
    host: '127.0.0.1',
    port: Number(values.port ?? 0),
    'admin-host': '127.0.0.1',
    'admin-port': Number(values['admin-port'] ?? 0),
    master: values.master,
    slave: values.slave,
    replication: values.replication,
    'timeout-ms': values['timeout-ms'] ? Number(values['timeout-ms']) : undefined,
  },
  (line) => process.stderr.write(`${line}\n`),
);
