// Serverless variable source: `${file(./config/fleets.cjs)}` resolves to the fleets of this stage as the JSON string
// the functions read from WORKER_FLEET_FLEETS. The file is `params.fleetsFile` (default fleets.yml), or
// WORKER_FLEET_FLEETS_FILE when set. The fleets are validated with the functions' own schema here, so an invalid
// fleet stops `serverless package`/`deploy` before anything reaches AWS.
const { readFileSync } = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const YAML = require('yaml');

/** Lambda allows 4 KB of environment in all; the other variables need a few hundred bytes. */
const MAX_FLEETS_BYTES = 3500;

function loadFleetSchema() {
  const root = path.join(__dirname, '..');
  const bundle = esbuild.buildSync({
    stdin: {
      contents: [
        "export { fleetsSchema } from './src/model/fleet-spec';",
        "export { describeIssues } from './src/model/validation';",
      ].join('\n'),
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    logLevel: 'silent',
  });
  const module = { exports: {} };
  new Function('module', 'exports', 'require', bundle.outputFiles[0].text)(module, module.exports, require);
  return module.exports;
}

/** The stage's fleets file, parsed and validated: `{ file, fleets }` (the fleets as written, before defaults). */
async function loadFleets({ resolveVariable }) {
  const file = process.env.WORKER_FLEET_FLEETS_FILE || (await resolveVariable('param:fleetsFile'));
  const fullPath = path.resolve(path.join(__dirname, '..'), file);
  const fleets = YAML.parse(readFileSync(fullPath, 'utf8'));
  const { fleetsSchema, describeIssues } = loadFleetSchema();
  const parsed = fleetsSchema.safeParse(fleets);
  if (!parsed.success) throw new Error(`${file} is invalid: ${describeIssues(parsed.error)}`);
  return { file, fleets };
}

module.exports = async (source) => {
  const { file, fleets } = await loadFleets(source);
  const json = JSON.stringify(fleets);
  if (Buffer.byteLength(json) > MAX_FLEETS_BYTES) {
    throw new Error(
      `${file} is ${Buffer.byteLength(json)} bytes as JSON; Lambda's environment holds ${MAX_FLEETS_BYTES}`,
    );
  }
  return json;
};

module.exports.loadFleets = loadFleets;
