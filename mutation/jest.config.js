/**
 * The `unit` project alone, as one flat config, for Stryker (`npm run mutation`): per-test coverage needs the test
 * environment at the top level, not inside `projects`. The template test packages the whole service (esbuild,
 * serverless): slow, and it tests none of the mutated modules.
 */
const { projects } = require('../jest.config.js');

const unit = projects.find((project) => project.displayName === 'unit');

module.exports = {
  ...unit,
  rootDir: '..',
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/template.test.ts'],
};
