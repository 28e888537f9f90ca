/**
 * Mutation testing of the pure core (`npm run mutation`, issue 21): Stryker mutates the modules below and runs the
 * unit tests against each mutant; mutation/report.ts turns its JSON report into mutation/results.md. Not in CI.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  // The one list of what is mutated: pure modules of the core, no SDK, no network.
  mutate: [
    'src/fleet/{idle-policy,reap-plan,capacity,pools,pool-memory,fleet-spec}.ts',
    'src/events.ts',
    'src/access/{server-access-log,access-record,access-alerts}.ts',
  ],
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'mutation/jest.config.js', enableFindRelatedTests: true },
  // Each mutant runs only the tests that reached it. A static mutant (module-level code, run when the file is
  // loaded: the operation map, the regexes) has no such tests; findRelatedTests limits it to the test files that
  // import the mutated file, instead of the whole suite.
  coverageAnalysis: 'perTest',
  ignoreStatic: false,
  concurrency: 2,
  reporters: ['json', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
