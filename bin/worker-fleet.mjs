#!/usr/bin/env node
// The operator CLI from a clone's sources (`npm run cli -- --help`), through tsx: always the code as edited. The
// installed command is the bundle scripts/build-cli.mjs makes (dist/cli.mjs, package.json's `bin`).
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

register();
const require = createRequire(import.meta.url);
require('../local/text-modules.ts');
const { runCli } = require('../src/cli/main.ts');

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
});
