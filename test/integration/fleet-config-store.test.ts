import { PutObjectCommand } from '@aws-sdk/client-s3';
import { lambdaContext } from '../../local/lambda-context';
import {
  createFleetConfigReader,
  FLEET_CONFIG_KEY,
  headFleetConfig,
  readFleetConfig,
  writeFleetConfig,
} from '../../src/aws/fleet-config-store';
import { FleetConfigChangedError, FleetConfigError, UnknownFleetError } from '../../src/errors';
import type { FleetLaunchResult } from '../../src/fleet/launch-workers';
import { MAX_USER_DATA_BYTES } from '../../src/model/fleet-spec';
import { deployedEnvironment } from './deployed-env';
import { fleetOf, largeFleetDocument } from './fleet-documents';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();

const fleet = fleetOf;

const storedGets = () =>
  emulator().requests.filter(
    (request) => request.method === 'GET' && request.path.includes(FLEET_CONFIG_KEY),
  );

/** Writes a document straight into the store, as a hand edit in the console would: no validation. */
const putUnchecked = (world: FleetWorld, body: string) =>
  world.s3.send(new PutObjectCommand({ Bucket: world.stateBucket, Key: FLEET_CONFIG_KEY, Body: body }));

const silent = { error: jest.fn() };

describe('the fleet configuration store', () => {
  it('takes a 20 KB document with 16 KB of user data and gives it back as written, with its version', async () => {
    const world = await createFleetWorld(emulator());
    const document = largeFleetDocument(world);
    expect(Buffer.byteLength(JSON.stringify(document))).toBeGreaterThan(20_000);

    const written = await writeFleetConfig(world.s3, world.stateBucket, document, 'config-push', {
      absent: true,
    });
    const stored = await readFleetConfig(world.s3, world.stateBucket);

    expect(stored?.document).toEqual(document);
    expect(stored?.fleets.batch?.userData).toHaveLength(MAX_USER_DATA_BYTES);
    expect(stored?.version).toMatchObject({
      etag: written.etag,
      versionId: written.versionId,
      writtenBy: 'config-push',
    });
  });

  it('refuses a document the schema refuses, naming the field, and changes nothing', async () => {
    const world = await createFleetWorld(emulator());
    const good = { batch: fleet(world) };
    await writeFleetConfig(world.s3, world.stateBucket, good, 'config-push', { absent: true });
    const before = await headFleetConfig(world.s3, world.stateBucket);

    const bad = { batch: fleet(world), broken: fleet(world, { subnets: ['subnet-nope'] }) };
    await expect(
      writeFleetConfig(world.s3, world.stateBucket, bad, 'config-push', { etag: before?.etag ?? '' }),
    ).rejects.toThrow(
      new FleetConfigError(
        'fleet configuration is invalid: broken.subnets.0: must be a subnet id (subnet-…)',
      ),
    );

    expect(await headFleetConfig(world.s3, world.stateBucket)).toEqual(before);
    expect((await readFleetConfig(world.s3, world.stateBucket))?.document).toEqual(good);
  });

  it('refuses to overwrite a document changed since it was read, and changes nothing', async () => {
    const world = await createFleetWorld(emulator());
    const first = await writeFleetConfig(world.s3, world.stateBucket, { batch: fleet(world) }, 'deploy', {
      absent: true,
    });
    const pushed = { batch: fleet(world, { targetCapacity: 3 }) };
    await writeFleetConfig(world.s3, world.stateBucket, pushed, 'config-push', { etag: first.etag });

    await expect(
      writeFleetConfig(world.s3, world.stateBucket, { batch: fleet(world) }, 'deploy', { etag: first.etag }),
    ).rejects.toThrow(FleetConfigChangedError);
    await expect(
      writeFleetConfig(world.s3, world.stateBucket, { batch: fleet(world) }, 'deploy', { absent: true }),
    ).rejects.toThrow(FleetConfigChangedError);

    expect((await readFleetConfig(world.s3, world.stateBucket))?.document).toEqual(pushed);
  });

  it('reads nothing when there is no document, and names the store when the document is not valid', async () => {
    const world = await createFleetWorld(emulator());
    expect(await readFleetConfig(world.s3, world.stateBucket)).toBeUndefined();

    await putUnchecked(world, '{"batch": ');
    await expect(readFleetConfig(world.s3, world.stateBucket)).rejects.toThrow(
      /^s3:\/\/worker-fleet-test-state\/config\/fleets\.json is not JSON/,
    );
    await putUnchecked(world, JSON.stringify({ batch: fleet(world, { market: 'cheap' }) }));
    await expect(readFleetConfig(world.s3, world.stateBucket)).rejects.toThrow(/batch\.market: /);
  });
});

describe('the functions’ reader of the fleet configuration', () => {
  it('reads the store once per 30 seconds, and a pushed change once they have passed', async () => {
    const world = await createFleetWorld(emulator());
    await world.storeFleets({ batch: fleet(world) });
    let clock = 0;
    const reader = createFleetConfigReader({
      s3: world.s3,
      bucket: world.stateBucket,
      logger: silent,
      now: () => clock,
    });

    expect(Object.keys(await reader.fleets())).toEqual(['batch']);
    await world.storeFleets({ batch: fleet(world), nightly: fleet(world) });
    clock = 29_999;
    expect(Object.keys(await reader.fleets())).toEqual(['batch']);
    expect(storedGets()).toHaveLength(1);

    clock = 30_000;
    expect(Object.keys(await reader.fleets())).toEqual(['batch', 'nightly']);
    expect(storedGets()).toHaveLength(2);
  });

  it('shares one read among the calls that meet it under way', async () => {
    const world = await createFleetWorld(emulator());
    await world.storeFleets({ batch: fleet(world) });
    const reader = createFleetConfigReader({ s3: world.s3, bucket: world.stateBucket, logger: silent });

    const [first, second] = await Promise.all([reader.fleets(), reader.fleets()]);

    expect(second).toBe(first);
    expect(storedGets()).toHaveLength(1);
  });

  it('keeps the last good fleets when the stored document turns bad, and says so', async () => {
    const world = await createFleetWorld(emulator());
    await world.storeFleets({ batch: fleet(world, { targetCapacity: 2 }) });
    let clock = 0;
    const logger = { error: jest.fn() };
    const reader = createFleetConfigReader({
      s3: world.s3,
      bucket: world.stateBucket,
      logger,
      now: () => clock,
    });
    const good = await reader.fleets();

    await putUnchecked(
      world,
      JSON.stringify({ batch: fleet(world, { targetCapacity: -1 }), extra: fleet(world) }),
    );
    clock = 60_000;

    expect(await reader.fleets()).toBe(good);
    expect(logger.error).toHaveBeenCalledWith(
      'fleet configuration unreadable, the last good one stays in use',
      {
        error: expect.objectContaining({
          name: 'FleetConfigError',
          message: expect.stringContaining('batch.targetCapacity'),
        }),
      },
    );
  });

  it('acts on no fleets when it has never read a good document: absent or bad, it throws', async () => {
    const world = await createFleetWorld(emulator());
    const reader = () => createFleetConfigReader({ s3: world.s3, bucket: world.stateBucket, logger: silent });

    await expect(reader().fleets()).rejects.toThrow(
      /^no fleet configuration at s3:\/\/worker-fleet-test-state\//,
    );
    // One good fleet and one bad: never half of it.
    await putUnchecked(
      world,
      JSON.stringify({ batch: fleet(world), broken: fleet(world, { instanceTypes: [] }) }),
    );
    await expect(reader().fleets()).rejects.toThrow(FleetConfigError);
  });
});

describe('launchWorkers handler and the fleet configuration store', () => {
  const context = lambdaContext('worker-fleet-test-launchWorkers', 60_000, 'lambda-request-1');

  it('launches a fleet pushed after it loaded, without a redeploy, once its cached configuration has expired', async () => {
    const world = await deployedEnvironment(emulator());
    const start = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(start);
    try {
      const { handler } = await import('../../src/handlers/launch-workers');
      await expect(handler({ fleet: 'nightly', count: 1 }, context)).rejects.toThrow(UnknownFleetError);

      await world.storeFleets({
        batch: fleet(world),
        nightly: fleet(world, { targetCapacity: 0, maxCapacity: 2 }),
      });
      clock.mockReturnValue(start + 30_000);
      const results = (await handler({ fleet: 'nightly', count: 1 }, context)) as FleetLaunchResult[];

      expect(results).toMatchObject([{ fleet: 'nightly', status: 'launched' }]);
      expect(results[0]?.launched).toHaveLength(1);
    } finally {
      clock.mockRestore();
    }
  });
});
