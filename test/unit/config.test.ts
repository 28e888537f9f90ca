import { fleetSpec, loadSettings, withFleets } from '../../src/config';
import { ConfigError, FleetConfigError, UnknownFleetError } from '../../src/errors';
import { configWith, envWith, fleetJson } from './fixtures';

describe('loadSettings', () => {
  it('reads a deployed function’s environment, which carries no fleets', () => {
    const settings = loadSettings(envWith());

    expect(settings).toMatchObject({ stage: 'dev', stateBucket: 'worker-fleet-dev-state' });
    expect(settings).not.toHaveProperty('fleets');
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it('makes a frozen config of the settings and the fleets read from the store', () => {
    const settings = loadSettings(envWith());
    const { fleets } = configWith();

    const config = withFleets(settings, fleets);

    expect(config).toMatchObject({ stage: 'dev', fleets: { batch: { market: 'spot' } } });
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('the configuration the core gets', () => {
  it('is the settings and the fleets as the store parses them, frozen, with defaults applied', () => {
    const config = configWith();

    expect(config.stage).toBe('dev');
    expect(config.managedBy).toBe('worker-fleet-dev');
    expect(config.fleets.batch).toMatchObject({
      market: 'spot',
      maxCapacity: 2,
      metadataHopLimit: 1,
      tags: {},
    });
    expect(config.dryRun).toBe(false);
    expect(configWith(envWith({ WORKER_FLEET_DRY_RUN: 'true' })).dryRun).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['WORKER_FLEET_STAGE', undefined, 'WORKER_FLEET_STAGE is not set'],
    ['WORKER_FLEET_STAGE', 'dev stage', 'WORKER_FLEET_STAGE is malformed: "dev stage"'],
    ['WORKER_FLEET_SSH_SECURITY_GROUP', 'default', 'WORKER_FLEET_SSH_SECURITY_GROUP is malformed: "default"'],
    ['WORKER_FLEET_SSH_KEY_PAIR', 'clé', 'WORKER_FLEET_SSH_KEY_PAIR is malformed: "clé"'],
    ['WORKER_FLEET_INSTANCE_PROFILE', '', 'WORKER_FLEET_INSTANCE_PROFILE is not set'],
    [
      'WORKER_FLEET_INSTANCE_PROFILE',
      'arn:aws:iam::123456789012:instance-profile/worker',
      'WORKER_FLEET_INSTANCE_PROFILE is malformed: "arn:aws:iam::123456789012:instance-profile/worker"; expected an instance profile name',
    ],
    ['WORKER_FLEET_STATE_BUCKET', undefined, 'WORKER_FLEET_STATE_BUCKET is not set'],
    ['WORKER_FLEET_STATE_BUCKET', 'My_Bucket', 'WORKER_FLEET_STATE_BUCKET is malformed: "My_Bucket"'],
    ['WORKER_FLEET_STATE_TABLE', undefined, 'WORKER_FLEET_STATE_TABLE is not set'],
    ['WORKER_FLEET_STATE_TABLE', 'a b', 'WORKER_FLEET_STATE_TABLE is malformed: "a b"'],
    ['WORKER_FLEET_FLEET_BUCKET', undefined, 'WORKER_FLEET_FLEET_BUCKET is not set'],
    ['WORKER_FLEET_LOG_BUCKET', undefined, 'WORKER_FLEET_LOG_BUCKET is not set'],
    ['WORKER_FLEET_WORKER_ROLE', 'arn:aws:iam::123456789012:role/w', 'WORKER_FLEET_WORKER_ROLE is malformed'],
    ['WORKER_FLEET_WORKER_ROLE_ID', undefined, 'WORKER_FLEET_WORKER_ROLE_ID is not set'],
    ['WORKER_FLEET_WORKER_ROLE_ID', 'worker-fleet-dev-worker', 'WORKER_FLEET_WORKER_ROLE_ID is malformed'],
    ['WORKER_FLEET_DRY_RUN', 'yes', 'WORKER_FLEET_DRY_RUN is malformed: "yes"; expected true or false'],
    ['WORKER_FLEET_TOPIC_ARN', 'arn:aws:sqs:us-east-1:123456789012:q', 'WORKER_FLEET_TOPIC_ARN is malformed'],
  ])('fails when %s is %j, naming the variable', (name, value, message) => {
    expect(() => loadSettings(envWith({ [name]: value }))).toThrow(ConfigError);
    expect(() => loadSettings(envWith({ [name]: value }))).toThrow(message);
  });

  it('ignores fleets given inline in the environment: the functions read them from the store alone', () => {
    const inline = envWith({ WORKER_FLEET_FLEETS: JSON.stringify({ other: fleetJson() }) });

    expect(loadSettings(inline)).not.toHaveProperty('fleets');
    expect(Object.keys(configWith(inline).fleets)).toEqual(['batch']);
  });

  it('names the fleet and field of an invalid spec, as the store does', () => {
    expect(() => configWith(envWith(), { batch: fleetJson({ targetCapacity: -1 }) })).toThrow(
      FleetConfigError,
    );
    expect(() => configWith(envWith(), { batch: fleetJson({ targetCapacity: -1 }) })).toThrow(
      /fleet configuration is invalid: batch\.targetCapacity: /,
    );
  });
});

describe('fleetSpec', () => {
  const config = configWith();

  it('returns the spec of a known fleet', () => {
    expect(fleetSpec(config, 'batch').instanceTypes).toEqual(['c7g.large', 'm7g.large']);
  });

  it.each(['nope', 'constructor', '__proto__'])('rejects %s, listing the known fleets', (name) => {
    expect(() => fleetSpec(config, name)).toThrow(UnknownFleetError);
    expect(() => fleetSpec(config, name)).toThrow(`unknown fleet "${name}"; this deployment manages: batch`);
  });
});
