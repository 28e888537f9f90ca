/**
 * Mutation testing of the pure core (`npm run mutation`, issue 21): Stryker mutates the modules below and runs their
 * unit tests against each mutant; mutation/run.ts turns its JSON report into mutation/results.md. Not in CI.
 */

// The one list of what is mutated: pure modules of the core, no SDK, no network. Braces only, no other wildcard:
// mutation/run.ts expands them to check the modules a run names and to tell a full run from a partial one.
export const mutate = [
  'src/fleet/{idle-policy,reap-plan,reconcile-plan,pools,pool-memory,retirement-plan,due-retirements,disruption-windows}.ts',
  'src/model/fleet-spec.ts',
  'src/events/{launch,reap,instance,access,parse,health}.ts',
  'src/access/{server-access-log,access-record,access-alerts}.ts',
];

/**
 * Modules that keep state at module level between calls (the access-log parser's cache of the last time read and
 * its scratch arrays reused from line to line): a test can fail with a mutant it never ran, because an earlier
 * test of its file left that state behind. Per-test coverage would run only the tests that reach the mutant, so
 * these are run with coverage 'all' (every test of their files for every mutant): mutation/run.ts runs them as a
 * second Stryker run and merges the two reports.
 */
export const sharedState = ['src/access/server-access-log.ts'];

/**
 * Each module is measured by its own unit tests, found by name: `src/x/name.ts` by `test/unit/**\/name.test.ts`
 * (jest reads the braces of a glob as alternatives). The other unit tests load the AWS SDK for the modules they
 * test, which would be paid again for every mutant.
 */
const ownTests = [
  ...mutate.map(
    (pattern) =>
      `<rootDir>/test/unit/**/${pattern.slice(pattern.lastIndexOf('/') + 1).replace(/\.ts$/, '')}.test.ts`,
  ),
  // The trigger parsers' tests are by trigger family, the fault rows' by row; the reaper's draining rules have
  // their own file.
  '<rootDir>/test/unit/events/*.test.ts',
  '<rootDir>/test/unit/faults.test.ts',
  '<rootDir>/test/unit/fleet/reap-plan-draining.test.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate,
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: 'mutation/jest.config.js',
    config: { testMatch: ownTests },
    enableFindRelatedTests: true,
  },
  // Each mutant runs the tests of its module's own test files (findRelatedTests within ownTests), and of those only
  // the tests that reach it (per-test coverage), but for the modules in `sharedState` (see above). Per-test
  // coverage was once wrong here: the zod schemas were built lazily, on first use, which credited a whole schema to
  // the one test that built it. They are built when their module loads now, before any test: their mutants are
  // static, and a static mutant runs every test of its module's files. Static mutants are kept (ignoreStatic would
  // drop the schemas, most of fleet-spec and the event parsers, and the module-level tables): each reruns a test
  // file or two, not the suite.
  coverageAnalysis: 'perTest',
  ignoreStatic: false,
  concurrency: 2,
  reporters: ['json', 'progress'],
  // mutation/run.ts names a report per Stryker run, then merges them into reports/mutation/mutation.json.
  jsonReporter: { fileName: process.env.MUTATION_REPORT ?? 'reports/mutation/mutation.json' },
  // The sandbox is a copy of the tree; Stryker does not read .gitignore, so what it ignores is named here.
  ignorePatterns: ['/.venv', '/.venv-checkov', '/.serverless', '/.esbuild', '/coverage'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
