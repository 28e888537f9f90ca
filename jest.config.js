/**
 * Three projects: `unit` never touches the network; `template` packages the stack (`serverless package`, offline)
 * and checks what it would deploy; `integration` runs real SDK clients against the local emulator.
 */
const transform = {
  '^.+\\.ts$': [
    'ts-jest',
    { tsconfig: { module: 'commonjs', isolatedModules: true, esModuleInterop: true } },
  ],
  '^.+\\.sh$': '<rootDir>/test/text-transform.js',
};

/** A project running the tests under test/<name>/, in the test environment of test/setup-env.ts. */
const project = (name, settings = {}) => ({
  displayName: name,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  transform,
  moduleFileExtensions: ['ts', 'js', 'json', 'sh'],
  ...settings,
});

module.exports = {
  projects: [
    project('unit'),
    project('template', {
      globalSetup: '<rootDir>/test/template/packaged-stack.ts',
      globalTeardown: '<rootDir>/test/template/remove-packaged-stack.ts',
      slowTestThreshold: 30,
    }),
    project('integration', { slowTestThreshold: 30 }),
  ],
  testTimeout: 60_000,
};
