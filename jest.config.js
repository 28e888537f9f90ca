/** Two projects: `unit` never touches the network; `integration` runs real SDK clients against the local emulator. */
const transform = {
  '^.+\\.ts$': [
    'ts-jest',
    { tsconfig: { module: 'commonjs', isolatedModules: true, esModuleInterop: true } },
  ],
  '^.+\\.sh$': '<rootDir>/test/text-transform.js',
};

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/setup-env.ts'],
      transform,
      moduleFileExtensions: ['ts', 'js', 'json', 'sh'],
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/setup-env.ts'],
      transform,
      moduleFileExtensions: ['ts', 'js', 'json', 'sh'],
      slowTestThreshold: 30,
    },
  ],
  testTimeout: 60_000,
};
