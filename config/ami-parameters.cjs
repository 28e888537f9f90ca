// Serverless variable source: `${file(./config/ami-parameters.cjs)}` resolves to the SSM parameters the launching
// functions may read (infra/iam.yml, readAmiParameters): AWS's public parameters (`/aws/service/*`, such as the
// latest Amazon Linux AMI), and each parameter of the account that a fleet of this stage names as its `ami`. Any
// other parameter of the account, secret or not, stays out of reach.
const { loadFleets } = require('./fleets.cjs');

/** Where AWS keeps its public parameters: no account in the ARN. */
const PUBLIC_PARAMETERS = '/aws/service/';

module.exports = async (source) => {
  const { fleets } = await loadFleets(source);
  const names = [
    ...new Set(
      Object.values(fleets)
        .map((fleet) => fleet.ami)
        .filter((ami) => ami.startsWith('/') && !ami.startsWith(PUBLIC_PARAMETERS)),
    ),
  ].sort();
  return [
    { 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}::parameter${PUBLIC_PARAMETERS}*` },
    // A parameter named `/a/b` has the ARN `...:parameter/a/b`.
    ...names.map((name) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}`,
    })),
  ];
};
