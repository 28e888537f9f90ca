import {
  EMPTY_POOL_MEMORY,
  HALF_LIFE_MS,
  orderByRisk,
  poolRisks,
  RISKY_SCORE,
  rememberPoolEvents,
} from '../../../src/fleet/pool-memory';
import { type Pool, placementKey } from '../../../src/model/pool';

const now = new Date('2026-11-25T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const c7a = { instanceType: 'c7g.large', subnetId: 'subnet-a' };
const m7a = { instanceType: 'm7g.large', subnetId: 'subnet-a' };

describe('rememberPoolEvents', () => {
  it('adds events per placement without changing the memory it was given', () => {
    const before = rememberPoolEvents(undefined, [{ pool: c7a, kind: 'interruption' }], ago(1000));

    const after = rememberPoolEvents(
      before,
      [
        { pool: c7a, kind: 'capacity-error' },
        { pool: m7a, kind: 'rebalance' },
      ],
      now,
    );

    expect(before.pools['c7g.large@subnet-a']).toHaveLength(1);
    expect(after.pools['c7g.large@subnet-a']?.map((event) => event.kind)).toEqual([
      'interruption',
      'capacity-error',
    ]);
    expect(after.pools['m7g.large@subnet-a']).toEqual([{ kind: 'rebalance', at: now.toISOString() }]);
  });

  it('forgets events older than a week, and pools with nothing left', () => {
    const old = rememberPoolEvents(undefined, [{ pool: c7a, kind: 'interruption' }], ago(8 * 24 * 3_600_000));

    const memory = rememberPoolEvents(old, [{ pool: m7a, kind: 'rebalance' }], now);

    // The array form: a string path would read the dot in the key as a nested property, and never fail.
    expect(memory.pools).not.toHaveProperty(['c7g.large@subnet-a']);
    expect(Object.keys(memory.pools)).toEqual(['m7g.large@subnet-a']);
  });

  it('forgets an event exactly a week old, and keeps the newer events of its pool', () => {
    const week = 7 * 24 * 3_600_000;
    const older = rememberPoolEvents(undefined, [{ pool: c7a, kind: 'interruption' }], ago(week));
    const newer = rememberPoolEvents(older, [{ pool: c7a, kind: 'rebalance' }], ago(week - 1));

    const memory = rememberPoolEvents(newer, [], now);

    expect(memory.pools['c7g.large@subnet-a']).toEqual([
      { kind: 'rebalance', at: ago(week - 1).toISOString() },
    ]);
  });

  it('remembers no pool in the empty memory', () => {
    expect(EMPTY_POOL_MEMORY.pools).toEqual({});
    expect(rememberPoolEvents(EMPTY_POOL_MEMORY, [], now)).toEqual({ pools: {} });
  });

  it('keeps at most 20 events per pool, the newest', () => {
    const many = rememberPoolEvents(
      undefined,
      Array.from({ length: 25 }, () => ({ pool: c7a, kind: 'interruption' as const })),
      now,
    );

    expect(many.pools['c7g.large@subnet-a']).toHaveLength(20);
  });
});

describe('poolRisks', () => {
  it.each([
    ['a fresh interruption', 'interruption', 0, 1],
    ['an interruption one half-life ago', 'interruption', HALF_LIFE_MS, 0.5],
    ['an interruption two half-lives ago', 'interruption', 2 * HALF_LIFE_MS, 0.25],
    ['a fresh capacity error', 'capacity-error', 0, 1],
    ['a fresh rebalance recommendation', 'rebalance', 0, 0.5],
    ['an interruption six hours ago', 'interruption', 6 * 3_600_000, 0.5],
    ['an interruption twelve hours ago', 'interruption', 12 * 3_600_000, 0.25],
  ] as const)('scores %s at %d', (_name, kind, age, score) => {
    const memory = rememberPoolEvents(undefined, [{ pool: c7a, kind }], ago(age));

    expect(poolRisks(memory, now).get('c7g.large@subnet-a')?.score).toBe(score);
  });

  it('explains the score', () => {
    const memory = rememberPoolEvents(
      rememberPoolEvents(undefined, [{ pool: c7a, kind: 'interruption' }], ago(3 * 3_600_000)),
      [
        { pool: c7a, kind: 'capacity-error' },
        { pool: c7a, kind: 'capacity-error' },
      ],
      now,
    );

    expect(poolRisks(memory, now).get('c7g.large@subnet-a')?.reason).toBe(
      '1 interruption, 2 capacity errors in the last 3h',
    );
  });

  it.each([
    ['capacity errors only', ['capacity-error', 'capacity-error'], '2 capacity errors in the last 1h'],
    ['one rebalance recommendation', ['rebalance'], '1 rebalance recommendation in the last 1h'],
    [
      'every kind',
      ['rebalance', 'interruption', 'rebalance', 'capacity-error'],
      '1 interruption, 1 capacity error, 2 rebalance recommendations in the last 1h',
    ],
  ] as const)('explains %s, naming only the kinds seen', (_name, kinds, reason) => {
    const memory = rememberPoolEvents(
      undefined,
      kinds.map((kind) => ({ pool: c7a, kind })),
      now,
    );

    expect(poolRisks(memory, now).get('c7g.large@subnet-a')?.reason).toBe(reason);
  });

  it('knows nothing of an empty memory', () => {
    expect(poolRisks(undefined, now).size).toBe(0);
  });
});

describe('orderByRisk', () => {
  const pools: Pool[] = [
    { ...c7a, market: 'spot' },
    { ...m7a, market: 'spot' },
    { ...c7a, market: 'on-demand' },
  ];
  const risky = new Map([['c7g.large@subnet-a', { score: RISKY_SCORE, reason: 'r' }]]);

  it('tries a risky spot pool after the other spot pools, but before on-demand', () => {
    expect(orderByRisk(pools, risky).map((pool) => `${pool.market}:${pool.instanceType}`)).toEqual([
      'spot:m7g.large',
      'spot:c7g.large',
      'on-demand:c7g.large',
    ]);
  });

  it('never reorders on-demand pools, even in a risky placement', () => {
    const onDemand: Pool[] = [
      { ...c7a, market: 'on-demand' },
      { ...m7a, market: 'on-demand' },
    ];

    expect(orderByRisk(onDemand, risky)).toEqual(onDemand);
  });

  it('keeps the order of a long list otherwise, risky pools last among spot', () => {
    const many: Pool[] = Array.from({ length: 40 }, (_, index) => ({
      instanceType: `c7g.${index}xlarge`,
      subnetId: 'subnet-a',
      market: 'spot',
    }));
    const riskyEveryFifth = new Map(
      many
        .filter((_, index) => index % 5 === 0)
        .map((pool) => [placementKey(pool), { score: 1, reason: 'r' }] as const),
    );

    const ordered = orderByRisk(many, riskyEveryFifth).map((pool) => many.indexOf(pool));

    const indices = many.map((_, index) => index);
    expect(ordered).toEqual([
      ...indices.filter((index) => index % 5 !== 0),
      ...indices.filter((index) => index % 5 === 0),
    ]);
  });

  it('keeps the order when nothing is risky', () => {
    expect(orderByRisk(pools, new Map([['c7g.large@subnet-a', { score: 0.49, reason: 'r' }]]))).toEqual(
      pools,
    );
  });
});
