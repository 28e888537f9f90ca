// Serverless variable source: what the functions' WORKER_FLEET_SSH_KEY_PAIR holds: a Ref to the stack's key pair
// (its name, worker-fleet-<stage>) when the stage sets sshCreateKeyPair to "true" (the CreatesSshKeyPair condition of
// infra/network.yml), else empty. Decided here rather than with Fn::If, which `serverless invoke local` cannot resolve.
module.exports = async ({ resolveVariable }) => {
  const create = await resolveVariable('param:sshCreateKeyPair');
  return String(create) === 'true' ? { Ref: 'WorkerSshKeyPair' } : '';
};
