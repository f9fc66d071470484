/** The consistency checker: judge a workload history and a final scan. */
export * from './check.js';
export * from './divergence.js';
export * from './stats.js';
