/**
 * The `unit` project alone, as one flat config, for Stryker (`npm run mutation`): its jest runner puts its test
 * environment at the top level, not inside `projects`. stryker.config.mjs narrows it to the mutated modules' own
 * tests; the template test, which packages the whole service (esbuild, serverless), is never one of them.
 */
const { projects } = require('../jest.config.js');

const unit = projects.find((project) => project.displayName === 'unit');

module.exports = {
  ...unit,
  rootDir: '..',
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/template.test.ts'],
};
