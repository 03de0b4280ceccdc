#!/usr/bin/env node
// The `tsad` command. tsx compiles the TypeScript sources on the fly, so the
// repository runs as checked out, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
