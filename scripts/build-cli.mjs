// Bundles the operator CLI (src/cli/bin.ts and the core it runs) into dist/cli.mjs, the `worker-fleet` command of the
// packed package (`npm pack` runs it as `prepack`). The project's own code is bundled; packages stay imports, so
// the command runs on the package's runtime dependencies alone: no tsx, nothing from local/.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/cli.mjs',
  bundle: true,
  packages: 'external',
  platform: 'node',
  // The oldest Node the package supports (engines.node, ">=22").
  target: `node${engines.node.match(/\d+(\.\d+)*/)[0]}`,
  format: 'esm',
  // The agent's user data script travels as text, as in the functions' bundles.
  loader: { '.sh': 'text' },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
