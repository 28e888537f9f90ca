// Serverless plugin: lets osls (the open-source fork) accept the top-level `build` key that Serverless Framework v4
// needs. v4 refuses to package with serverless-esbuild listed unless `build: { esbuild: false }` turns its own
// bundler off; osls validates the configuration in `error` mode by default and knows no `build` key, so without
// this declaration it stops with "unrecognized property 'build'". v4 declares the key itself: then this does
// nothing. The key means nothing to osls; serverless-esbuild bundles under either framework.
class ServerlessBuildKey {
  constructor(serverless) {
    const schemaHandler = serverless.configSchemaHandler;
    if (schemaHandler?.schema?.properties?.build !== undefined) return;
    schemaHandler?.defineTopLevelProperty('build', {
      type: 'object',
      properties: { esbuild: { anyOf: [{ type: 'boolean' }, { type: 'object' }] } },
    });
  }
}

module.exports = ServerlessBuildKey;
