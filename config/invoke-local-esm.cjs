// Serverless plugin: lets `serverless invoke local` run the ESM bundles serverless-esbuild writes (`<handler>.mjs`).
// The framework's local invoker resolves a handler path like a CommonJS require (`.js`, then `.cjs`), so it never
// finds an `.mjs` file; this names the bundle's file explicitly, which Node ≥ 20.19 can require. Deploys are
// untouched: it only acts before a local invocation, after serverless-esbuild has built the bundle.
const { existsSync } = require('node:fs');
const path = require('node:path');

class InvokeLocalEsm {
  constructor(serverless, options) {
    this.hooks = {
      'before:invoke:local:invoke': () => {
        const functionObj = options.functionObj;
        if (functionObj === undefined || typeof functionObj.handler !== 'string') return;
        const separator = functionObj.handler.lastIndexOf('.');
        const modulePath = functionObj.handler.slice(0, separator);
        const exportName = functionObj.handler.slice(separator + 1);
        if (path.extname(modulePath) !== '') return;
        if (existsSync(path.join(serverless.config.servicePath, `${modulePath}.mjs`))) {
          functionObj.handler = `${modulePath}.mjs.${exportName}`;
        }
      },
    };
  }
}

module.exports = InvokeLocalEsm;
