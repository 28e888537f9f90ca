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

/**
 * A fleets file read, parsed and validated, without side effects: `{ fleets, problems, warnings }`, each problem and
 * warning `{ line, text }` (`text` is `path: message`; `line` is 1-based, or undefined when the file says nothing
 * closer). YAML syntax errors are problems too. Warnings (an instance type the SDK does not know) never refuse.
 */
function readFleetsFile(file) {
  const lineCounter = new YAML.LineCounter();
  const document = YAML.parseDocument(readFileSync(path.resolve(ROOT, file), 'utf8'), { lineCounter });
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((error) => ({
        line: error.linePos?.[0]?.line,
        text: `YAML: ${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
      warnings: [],
    };
  }
  const fleets = document.toJS();
  const { fleetsSchema, listIssues, describeFleetConfigWarnings, refusedWindows } = loadFleetChecks();
  const lineOf = (at) => {
    // The line of the path's key (or list item); for a field that is missing, that of the nearest key that is there.
    for (let depth = at.length; depth > 0; depth -= 1) {
      const parent = depth === 1 ? document.contents : document.getIn(at.slice(0, depth - 1), true);
      const step = at[depth - 1];
      const node = YAML.isMap(parent)
        ? parent.items.find((pair) => (YAML.isScalar(pair.key) ? pair.key.value : pair.key) === step)?.key
        : YAML.isSeq(parent)
          ? parent.items[step]
          : undefined;
      if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const refusal = (issues) => ({
    problems: issues.map(({ path: at, message }) => ({
      line: lineOf(at),
      text: `${at.length > 0 ? at.join('.') : '(root)'}: ${message}`,
    })),
    warnings: [],
  });
  const parsed = fleetsSchema.safeParse(fleets);
  if (!parsed.success) return refusal(listIssues(parsed.error));
  // A window's cron expression, read by the parser the reaper uses (the schema checks only its shape).
  const refused = refusedWindows(parsed.data);
  if (refused.length > 0) return refusal(refused);
  const warnings = describeFleetConfigWarnings(parsed.data).map((text) => ({
    line: lineOf(
      text
        .slice(0, text.indexOf(':'))
        .split('.')
        .map((key) => (/^\d+$/.test(key) ? Number(key) : key)),
    ),
    text,
  }));
  return { fleets, problems: [], warnings };
}

/** The schema, its issues one by one and the warnings: the functions' own code, bundled once. */
let fleetChecks;
function loadFleetChecks() {
  fleetChecks ??= loadProjectModule(
    [
      "export { fleetsSchema } from './src/model/fleet-spec';",
      "export { listIssues } from './src/model/validation';",
      "export { describeFleetConfigWarnings } from './src/aws/instance-types';",
      "export { refusedWindows } from './src/fleet/disruption-windows';",
    ].join('\n'),
  );
  return fleetChecks;
}

/** `fleets.yml:6` or, without a line, the file alone. */
const where = (file, line) => (line === undefined ? file : `${file}:${line}`);

/** The block a bad fleets file prints: the file, then each problem at its line. */
function describeInvalidFleetsFile(file, problems) {
  return [
    `${file} is invalid (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}; docs/configuration.md):`,
    ...problems.map(({ line, text }) => `  ${where(file, line)}  ${text}`),
  ].join('\n');
}

/** Each stage's fleets file is read once per process: the helpers below share it, and a bad file is told once. */
const loaded = new Map();

/**
 * The stage's fleets file, parsed and validated: `{ file, fleets }` (the fleets as written, before defaults). Its
 * warnings are printed once. A bad file prints one block (file, path, line) and ends the command: the framework
 * would print each helper's error, with its stack, once per variable that uses it.
 */
async function loadFleets({ resolveVariable }) {
  const file = process.env.WORKER_FLEET_FLEETS_FILE || (await resolveVariable('param:fleetsFile'));
  if (!loaded.has(file)) {
    const { fleets, problems, warnings } = readFleetsFile(file);
    if (problems.length > 0) {
      process.stderr.write(`\n${describeInvalidFleetsFile(file, problems)}\n\n`);
      process.exit(1);
    }
    for (const { line, text } of warnings) process.stderr.write(`Warning: ${where(file, line)}  ${text}\n`);
    loaded.set(file, fleets);
  }
  return { file, fleets: loaded.get(file) };
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
module.exports.readFleetsFile = readFleetsFile;
module.exports.describeInvalidFleetsFile = describeInvalidFleetsFile;
module.exports.loadFleetConfigStore = loadFleetConfigStore;
module.exports.loadProjectModule = loadProjectModule;
module.exports.decodeFleetsSeed = decodeFleetsSeed;
