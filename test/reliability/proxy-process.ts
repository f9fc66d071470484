import { runProxyCommand, type ProxyCommandFlags } from '../../src/proxy/cli.js';

/**
 * The proxy in its own process, straight from the sources (oclif's dev mode may pick up a stale
 * dist/): argv[2] is the ProxyCommandFlags JSON that `cachectl proxy` would parse from its flags.
 * Exits 0 after a clean SIGTERM/SIGINT drain, like the command.
 */
const flags = JSON.parse(process.argv[2] ?? '{}') as ProxyCommandFlags;
try {
  const result = await runProxyCommand(flags, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`proxy failed: ${(err as Error).message}\n`);
  process.exit(1);
}
