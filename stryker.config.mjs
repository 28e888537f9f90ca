/**
 * Mutation testing of the pure core (`npm run mutation`, issue 21): Stryker mutates the modules below and runs their
 * unit tests against each mutant; mutation/run.ts turns its JSON report into mutation/results.md. Not in CI.
 */

// The one list of what is mutated: pure modules of the core, no SDK, no network.
export const mutate = [
  'src/fleet/{idle-policy,reap-plan,reconcile-plan,pools,pool-memory}.ts',
  'src/model/fleet-spec.ts',
  'src/events/{launch,reap,instance,access,parse}.ts',
  'src/access/{server-access-log,access-record,access-alerts}.ts',
];

/**
 * Each module is measured by its own unit tests, found by name: `src/x/name.ts` by `test/unit/**\/name.test.ts`
 * (jest reads the braces of a glob as alternatives). The other unit tests load the AWS SDK for the modules they
 * test, which would be paid again for every mutant; a glob such as `src/events/*.ts` still works (every unit test).
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
  // Every mutant runs all the tests of its module's own test files (findRelatedTests within ownTests), not the
  // whole suite. Not per-test coverage: the zod schemas are built once, when their module loads, so per-test
  // coverage credits a whole schema to the one test that happened to build it and runs only that test for every
  // mutant in it (a rejection message checked by a later test "survives"). Static mutants (module-level tables and
  // regexes) are kept for the same reason they are cheap here: a run loads a test file or two.
  coverageAnalysis: 'all',
  ignoreStatic: false,
  concurrency: 2,
  reporters: ['json', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // The sandbox is a copy of the tree; Stryker does not read .gitignore, so what it ignores is named here.
  ignorePatterns: ['/.venv', '/.venv-checkov', '/.serverless', '/.esbuild', '/coverage'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
