// Serverless variable source: what the functions' WORKER_FLEET_SSH_SECURITY_GROUP holds: a Ref to the stage's SSH
// security group when the stage names both sshIngressCidr and sshVpcId (the HasSshIngress condition of
// infra/network.yml), else empty. Decided here rather than with Fn::If, which `serverless invoke local` cannot resolve.
module.exports = async ({ resolveVariable }) => {
  const cidr = await resolveVariable('param:sshIngressCidr');
  const vpc = await resolveVariable('param:sshVpcId');
  return cidr !== '' && vpc !== '' ? { Ref: 'WorkerSshSecurityGroup' } : '';
};
