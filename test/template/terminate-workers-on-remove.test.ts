// The remove plugin's rule for which instances are this deployment's workers, and its keepWorkers switch.
const { isOwnedWorker, keepWorkers } = require('../../config/terminate-workers-on-remove.cjs') as {
  isOwnedWorker: (instance: unknown, owned: { managedBy: string; profile: string }) => boolean;
  keepWorkers: (params: unknown) => boolean;
};

const owned = { managedBy: 'worker-fleet-dev', profile: 'worker-fleet-dev-worker' };
const tag = (value: string) => [{ Key: 'worker-fleet:managed-by', Value: value }];
const profile = (arn: string) => ({ Arn: arn });

describe('serverless remove: which workers it terminates', () => {
  it.each([
    [
      'the tag and the profile',
      tag('worker-fleet-dev'),
      'arn:aws:iam::1:instance-profile/worker-fleet-dev-worker',
      true,
    ],
    [
      'the profile under a path',
      tag('worker-fleet-dev'),
      'arn:aws:iam::1:instance-profile/p/worker-fleet-dev-worker',
      true,
    ],
    ['the tag alone', tag('worker-fleet-dev'), undefined, false],
    ['the profile alone', [], 'arn:aws:iam::1:instance-profile/worker-fleet-dev-worker', false],
    [
      'another stage’s tag',
      tag('worker-fleet-prod'),
      'arn:aws:iam::1:instance-profile/worker-fleet-dev-worker',
      false,
    ],
    [
      'another profile',
      tag('worker-fleet-dev'),
      'arn:aws:iam::1:instance-profile/worker-fleet-dev-worker2',
      false,
    ],
  ])('an instance with %s: %s', (_, tags, arn, expected) => {
    const instance = { Tags: tags, ...(arn === undefined ? {} : { IamInstanceProfile: profile(arn) }) };

    expect(isOwnedWorker(instance, owned)).toBe(expected);
  });

  it.each([
    [['keepWorkers=true'], true],
    ['keepWorkers=true', true],
    [['stage=x', 'keepWorkers=true'], true],
    [['keepWorkers=false'], false],
    [['keepWorkers=truely'], false],
    [undefined, false],
  ])('--param %j keeps the workers: %s', (params, expected) => {
    expect(keepWorkers(params)).toBe(expected);
  });
});
