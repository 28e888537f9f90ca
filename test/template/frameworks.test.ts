import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagedDir } from './packaged-stack';

/** What osls recorded of the configuration it packaged (the global setup packages with osls, the fork). */
interface ServerlessState {
  readonly service: {
    readonly configValidationMode: string;
    readonly plugins: readonly string[];
    readonly initialServerlessConfig: { readonly build?: unknown };
  };
}

const state = (): ServerlessState =>
  JSON.parse(readFileSync(join(packagedDir(), 'serverless-state.json'), 'utf8')) as ServerlessState;

// The in-repo plugin, loaded as osls and v4 load it.
const ServerlessBuildKey = require('../../config/serverless-build-key.cjs') as new (
  serverless: unknown,
) => object;

describe('serverless.yml under both frameworks', () => {
  it('is packaged by osls in its strict validation mode', () => {
    expect(state().service.configValidationMode).toBe('error');
  });

  it('carries what Serverless Framework v4 requires with serverless-esbuild: build.esbuild false', () => {
    const { service } = state();
    expect(service.plugins).toContain('serverless-esbuild');
    expect(service.initialServerlessConfig.build).toEqual({ esbuild: false });
  });

  it('declares the build key in osls through the in-repo plugin', () => {
    expect(state().service.plugins).toContain('./config/serverless-build-key.cjs');
  });

  it('leaves a schema that already has the build key (v4) as it is', () => {
    const v4Build = { type: 'object' };
    const defineTopLevelProperty = jest.fn();
    new ServerlessBuildKey({
      configSchemaHandler: { schema: { properties: { build: v4Build } }, defineTopLevelProperty },
    });
    expect(defineTopLevelProperty).not.toHaveBeenCalled();
  });

  it('defines the build key where the schema lacks it (osls)', () => {
    const defineTopLevelProperty = jest.fn();
    new ServerlessBuildKey({ configSchemaHandler: { schema: { properties: {} }, defineTopLevelProperty } });
    expect(defineTopLevelProperty).toHaveBeenCalledWith('build', expect.objectContaining({ type: 'object' }));
  });
});
