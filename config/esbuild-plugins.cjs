// esbuild plugins for serverless-esbuild (`custom.esbuild.plugins` in serverless.yml).
const path = require('node:path');

/**
 * Writes each function's chunks beside its bundle, under `<bundle>.chunks/`. serverless-esbuild leaves out of a
 * function's zip every file named after another function's bundle (as it does `<bundle>.map`), so each zip holds
 * its own chunks and no other function's.
 */
const chunksPerFunction = {
  name: 'chunks-per-function',
  setup(build) {
    const entries = build.initialOptions.entryPoints;
    const [entry] = Array.isArray(entries) ? entries : Object.values(entries ?? {});
    const file = typeof entry === 'string' ? entry : entry?.in;
    if (file === undefined) return;
    build.initialOptions.chunkNames = `${path.basename(file, path.extname(file))}.chunks/[name]-[hash]`;
  },
};

module.exports = [chunksPerFunction];
