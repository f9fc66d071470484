#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources without a build (needs `tsx`).
import { execute } from '@oclif/core';

await execute({ development: true, dir: import.meta.url });
