import { AccessAlerts, DENIED_BURST } from '../../../src/access/access-alerts';
import type { AttributedAccess } from '../../../src/access/attribution';

const access = (overrides: Partial<AttributedAccess> = {}): AttributedAccess => ({
  time: '2026-11-25T09:10:00.000Z',
  bucket: 'fleet',
  key: 'results/a',
  operation: 'GetObject',
  status: 200,
  principal: 'arn:aws:sts::123456789012:assumed-role/worker/i-0123456789abcdef0',
  sourceIp: '10.0.0.7',
  requestId: 'R1',
  source: 'access-log',
  instanceId: 'i-0123456789abcdef0',
  fleet: 'batch',
  ...overrides,
});

describe('AccessAlerts', () => {
  it('raises nothing for ordinary accesses', () => {
    const alerts = new AccessAlerts();
    alerts.observe(access());
    alerts.observe(access({ status: 404, errorCode: 'NoSuchKey' }));

    expect(alerts.list()).toEqual([]);
  });

  it('raises one alert per instance used after termination, with the count, the time span and the keys', () => {
    const alerts = new AccessAlerts();
    alerts.observe(access({ afterTermination: true, time: '2026-11-25T09:12:00.000Z', key: 'b' }));
    alerts.observe(access({ afterTermination: true, time: '2026-11-25T09:11:00.000Z', key: 'a' }));
    alerts.observe(access({ afterTermination: true, time: '2026-11-25T09:13:00.000Z', key: 'a' }));

    expect(alerts.list()).toEqual([
      {
        kind: 'access-after-termination',
        principal: access().principal,
        instanceId: 'i-0123456789abcdef0',
        fleet: 'batch',
        count: 3,
        firstTime: '2026-11-25T09:11:00.000Z',
        lastTime: '2026-11-25T09:13:00.000Z',
        keys: ['b', 'a'],
      },
    ]);
  });

  it('raises one alert per instance, even when they share a principal', () => {
    const alerts = new AccessAlerts();
    alerts.observe(access({ afterTermination: true }));
    alerts.observe(access({ afterTermination: true, instanceId: 'i-0fedcba9876543210' }));

    expect(alerts.list().map((alert) => alert.instanceId)).toEqual([
      'i-0123456789abcdef0',
      'i-0fedcba9876543210',
    ]);
  });

  it('keeps the first ten keys, without repeats or the empty key of a bucket-level access', () => {
    const alerts = new AccessAlerts();
    const keys = ['', 'k0', 'k0', '', ...Array.from({ length: 12 }, (_, index) => `k${index}`)];
    for (const key of keys) alerts.observe(access({ afterTermination: true, key }));

    expect(alerts.list()[0]?.keys).toEqual(Array.from({ length: 10 }, (_, index) => `k${index}`));
    expect(alerts.list()[0]?.count).toBe(keys.length);
  });

  it('keeps the latest time as the last, whatever order the accesses come in', () => {
    const alerts = new AccessAlerts();
    for (const minute of ['11', '13', '12']) {
      alerts.observe(access({ afterTermination: true, time: `2026-11-25T09:${minute}:00.000Z` }));
    }

    expect(alerts.list()[0]).toMatchObject({
      firstTime: '2026-11-25T09:11:00.000Z',
      lastTime: '2026-11-25T09:13:00.000Z',
    });
  });

  it('raises an IMDSv1 alert for credentials delivered as 1.0, not 2.0', () => {
    const alerts = new AccessAlerts();
    alerts.observe(access({ credentialDelivery: '2.0' }));
    alerts.observe(access({ credentialDelivery: '1.0' }));

    expect(alerts.list().map((alert) => alert.kind)).toEqual(['imdsv1-credentials']);
  });

  it(`raises a denied burst at ${DENIED_BURST} refusals by one principal, and not one short of it`, () => {
    const alerts = new AccessAlerts();
    const stranger = { instanceId: undefined, fleet: undefined, principal: 'arn:aws:iam::1:user/eve' };
    for (let n = 1; n < DENIED_BURST; n += 1) alerts.observe(access({ ...stranger, status: 403 }));
    alerts.observe(access({ status: 403 }));

    expect(alerts.list()).toEqual([]);

    alerts.observe(access({ ...stranger, errorCode: 'AccessDenied', status: 403 }));

    expect(alerts.list()).toEqual([
      expect.objectContaining({
        kind: 'access-denied-burst',
        principal: stranger.principal,
        count: DENIED_BURST,
      }),
    ]);
    expect(alerts.list()[0]).not.toHaveProperty('fleet');
    expect(alerts.list()[0]).not.toHaveProperty('instanceId');
  });

  it(`raises no burst for ${DENIED_BURST} allowed accesses by one principal`, () => {
    const alerts = new AccessAlerts();
    for (let n = 0; n < DENIED_BURST; n += 1) alerts.observe(access({ status: 200 }));

    expect(alerts.list()).toEqual([]);
  });

  it('raises a denied burst for each principal without an instance', () => {
    const alerts = new AccessAlerts();
    for (const principal of ['arn:aws:iam::1:user/eve', 'arn:aws:iam::1:user/mallory']) {
      for (let n = 0; n < DENIED_BURST; n += 1) {
        alerts.observe(access({ instanceId: undefined, fleet: undefined, principal, status: 403 }));
      }
    }

    expect(alerts.list().map((alert) => [alert.principal, alert.count])).toEqual([
      ['arn:aws:iam::1:user/eve', DENIED_BURST],
      ['arn:aws:iam::1:user/mallory', DENIED_BURST],
    ]);
  });
});
