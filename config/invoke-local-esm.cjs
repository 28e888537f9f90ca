// Serverless plugin: lets `serverless invoke local` run the ESM bundles serverless-esbuild writes (`<handler>.mjs`).
// The framework's local invoker resolves a handler path like a CommonJS require (`.js`, then `.cjs`), so it never
// finds an `.mjs` file; this names the bundle's file explicitly, which Node ≥ 20.19 can require. Deploys are
// untouched: it only acts before a local invocation, after serverless-esbuild has built the bundle.
// It also resolves what the local invoker cannot: an environment variable `Fn::GetAtt: [<role>, RoleId]` (the
// worker role's id, WORKER_FLEET_WORKER_ROLE_ID) is read from the deployed function's environment.
const { existsSync } = require('node:fs');
const path = require('node:path');

/**
 * Resolves each environment value `Fn::GetAtt: [<role>, RoleId]`, in place, to the value the deployed function has
 * (moto does not recompute a stack's outputs after an update, so the function's own environment is read).
 */
async function resolveRoleIds(serverless, functionName, environment) {
  const names = Object.keys(environment).filter((name) => {
    const value = environment[name];
    return value !== null && typeof value === 'object' && value['Fn::GetAtt']?.[1] === 'RoleId';
  });
  if (names.length === 0) return;
  const { GetFunctionConfigurationCommand, LambdaClient } = require('@aws-sdk/client-lambda');
  const provider = serverless.getProvider('aws');
  const deployed = await new LambdaClient(await provider.getAwsSdkV3Config()).send(
    new GetFunctionConfigurationCommand({ FunctionName: functionName }),
  );
  for (const name of names) {
    const value = deployed.Environment?.Variables?.[name];
    if (value === undefined) throw new Error(`the deployed ${functionName} has no ${name}`);
    environment[name] = value;
  }
}

class InvokeLocalEsm {
  constructor(serverless, options) {
    // The local invoker (loaded before this plugin) resolves Ref and Fn::ImportValue only: role ids first.
    const invoker = serverless.pluginManager?.plugins?.find(
      (plugin) => typeof plugin.resolveConfiguredEnvVars === 'function',
    );
    if (invoker !== undefined) {
      const resolveConfiguredEnvVars = invoker.resolveConfiguredEnvVars.bind(invoker);
      invoker.resolveConfiguredEnvVars = async (environment) => {
        await resolveRoleIds(serverless, options.functionObj?.name, environment);
        return resolveConfiguredEnvVars(environment);
      };
    }
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
