/** The workload library: what commands, chaos scenarios and reports import. */
export * from './cli.js';
export * from './database.js';
export * from './history.js';
export * from './random.js';
export * from './runner.js';
export * from './scan.js';
export * from './summary.js';
export * from './value.js';
