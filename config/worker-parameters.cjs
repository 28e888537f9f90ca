// Serverless variable source: `${file(./config/worker-parameters.cjs)}` resolves to the SSM parameters workers may
// read (infra/iam.yml, the worker role): AWS's public parameters (`/aws/service/*`, in any region) and the account's
// parameters the stage names for its workers (param workerParameters, comma-separated names, `*` allowed). Session
// Manager's managed policy allows ssm:GetParameter(s) on every parameter; the worker role denies every other one.
/** Where AWS keeps its public parameters: no account in the ARN. */
const PUBLIC_PARAMETERS = '/aws/service/';
/** Where EC2 keeps the private keys of the key pairs it creates (the stack's own for `ssh: true` fleets). */
const KEY_PAIRS = '/ec2/keypair/';

/** The names a stage gives, checked: each a parameter name or pattern, none reaching the key pairs' private keys. */
function parameterNames(value) {
  const names = String(value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!/^\/[\w.\-/*]+$/.test(name)) {
      throw new Error(`param workerParameters: "${name}" is not a parameter name starting with /`);
    }
    const prefix = name.split('*')[0];
    const pattern = name.includes('*');
    if (prefix.startsWith(KEY_PAIRS) || (pattern && KEY_PAIRS.startsWith(prefix))) {
      throw new Error(
        `param workerParameters: "${name}" would let every worker read the key pairs' private keys`,
      );
    }
  }
  return [...new Set(names)].sort();
}

module.exports = async ({ resolveVariable }) => [
  { 'Fn::Sub': `arn:\${AWS::Partition}:ssm:*::parameter${PUBLIC_PARAMETERS}*` },
  // A parameter named `/a/b` has the ARN `...:parameter/a/b`.
  ...parameterNames(await resolveVariable('param:workerParameters')).map((name) => ({
    'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}`,
  })),
];
module.exports.parameterNames = parameterNames;
