// Serverless variable source: `${file(./config/fleets.cjs)}` resolves to the fleets of this stage (JSON, in base64),
// the document that seeds the fleet configuration store (config/fleet-config-seed.cjs writes it after a deploy). The file is
// `params.fleetsFile` (default fleets.yml), or WORKER_FLEET_FLEETS_FILE when set. The fleets are validated with the
// functions' own schema here, so an invalid fleet stops `serverless package`/`deploy` before anything reaches AWS.
// Nothing of it goes into the functions' environment: they read the store (docs/configuration.md).
const { readFileSync } = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const YAML = require('yaml');

const ROOT = path.join(__dirname, '..');

/**
 * The project's own TypeScript, bundled on the fly for the framework's CommonJS: `contents` is an ES module of
 * re-exports from ROOT. Packages stay outside the bundle (required from node_modules).
 */
function loadProjectModule(contents) {
  const bundle = esbuild.buildSync({
    stdin: { contents, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    packages: 'external',
    write: false,
    platform: 'node',
    format: 'cjs',
    logLevel: 'silent',
  });
  const module = { exports: {} };
  new Function('module', 'exports', 'require', bundle.outputFiles[0].text)(module, module.exports, require);
  return module.exports;
}

/** The fleet configuration store's adapter: the validation and conditional writes `worker-fleet config` uses. */
function loadFleetConfigStore() {
  return loadProjectModule("export * from './src/aws/fleet-config-store';");
}

/** The stage's fleets file, parsed and validated: `{ file, fleets }` (the fleets as written, before defaults). */
async function loadFleets({ resolveVariable }) {
  const file = process.env.WORKER_FLEET_FLEETS_FILE || (await resolveVariable('param:fleetsFile'));
  const fleets = YAML.parse(readFileSync(path.resolve(ROOT, file), 'utf8'));
  const { validateFleetConfig } = loadFleetConfigStore();
  try {
    validateFleetConfig(fleets);
  } catch (error) {
    throw new Error(`${file} is invalid: ${error.message.replace(/^fleet configuration is invalid: /, '')}`);
  }
  return { file, fleets };
}

async function resolveFleets(source) {
  const { fleets } = await loadFleets(source);
  // Base64, so that the framework resolves no `${…}` inside the fleets (user data is full of them).
  return Buffer.from(JSON.stringify(fleets)).toString('base64');
}

/** The fleets document the variable above resolved to. */
function decodeFleetsSeed(seed) {
  return JSON.parse(Buffer.from(seed, 'base64').toString('utf8'));
}

module.exports = resolveFleets;
module.exports.loadFleets = loadFleets;
module.exports.loadFleetConfigStore = loadFleetConfigStore;
module.exports.loadProjectModule = loadProjectModule;
module.exports.decodeFleetsSeed = decodeFleetsSeed;
