// Serverless plugin: lets `serverless invoke local` run with a `Fn::GetAtt` in the functions' environment (the worker
// role's id, WORKER_FLEET_WORKER_ROLE_ID). The framework's local invoker resolves `Ref` and `Fn::ImportValue` only,
// and refuses anything else; this takes such a value from the deployed function's own environment, as Lambda runs
// it, before the invoker reads the environment. Packaging and deploys are untouched.
const { GetFunctionConfigurationCommand, LambdaClient } = require('@aws-sdk/client-lambda');

const isGetAtt = (value) => typeof value === 'object' && value !== null && 'Fn::GetAtt' in value;

class InvokeLocalGetAtt {
  constructor(serverless, options) {
    this.hooks = {
      initialize: async () => {
        if (serverless.processedInput.commands.join(' ') !== 'invoke local') return;
        const environment = serverless.service.provider.environment ?? {};
        const names = Object.keys(environment).filter((name) => isGetAtt(environment[name]));
        if (names.length === 0) return;
        const provider = serverless.getProvider('aws');
        const lambda = new LambdaClient(await provider.getAwsSdkV3Config());
        const deployed = await lambda.send(
          new GetFunctionConfigurationCommand({
            FunctionName: serverless.service.getFunction(options.function).name,
          }),
        );
        for (const name of names) {
          const value = deployed.Environment?.Variables?.[name];
          if (value === undefined) {
            throw new serverless.classes.Error(`the deployed function ${options.function} has no ${name}`);
          }
          environment[name] = value;
        }
      },
    };
  }
}

module.exports = InvokeLocalGetAtt;
