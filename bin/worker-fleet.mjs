#!/usr/bin/env node
// The operator CLI (`npx worker-fleet --help`): runs the TypeScript sources through tsx, with the same core code the
// Lambda functions bundle.
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

register();
const require = createRequire(import.meta.url);
require('../local/quiet-sdk-node-warning.ts');
require('../local/text-modules.ts');
const { runCli } = require('../src/cli/main.ts');

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
});
