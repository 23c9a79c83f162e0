#!/usr/bin/env node
// Entry point of the `tnic` command: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../cli/tnic.ts');
