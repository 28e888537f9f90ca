import { candidatePools, spreadAcrossSubnets } from '../../../src/fleet/pools';
import { placementKey } from '../../../src/model/pool';

describe('spreadAcrossSubnets', () => {
  it.each([
    [0, ['a', 'b'], []],
    [1, ['a', 'b'], [{ subnetId: 'a', count: 1 }]],
    [
      5,
      ['a', 'b'],
      [
        { subnetId: 'a', count: 3 },
        { subnetId: 'b', count: 2 },
      ],
    ],
    [
      3,
      ['a', 'b', 'c'],
      [
        { subnetId: 'a', count: 1 },
        { subnetId: 'b', count: 1 },
        { subnetId: 'c', count: 1 },
      ],
    ],
  ])('splits %i over %j', (count, subnets, chunks) => {
    expect(spreadAcrossSubnets(count, subnets)).toEqual(chunks);
  });
});

describe('candidatePools', () => {
  const spec = { instanceTypes: ['c7g.large', 'm7g.large'], subnets: ['a', 'b'] };
  const keys = (pools: ReturnType<typeof candidatePools>) =>
    pools.map((pool) => `${pool.market}:${placementKey(pool)}`);

  it('tries spot pools in the preferred subnet, then the others, then on-demand when allowed', () => {
    expect(keys(candidatePools({ ...spec, market: 'spot-with-on-demand-fallback' }, 'b'))).toEqual([
      'spot:c7g.large@b',
      'spot:m7g.large@b',
      'spot:c7g.large@a',
      'spot:m7g.large@a',
      'on-demand:c7g.large@b',
      'on-demand:m7g.large@b',
      'on-demand:c7g.large@a',
      'on-demand:m7g.large@a',
    ]);
  });

  it('never offers on-demand to a spot-only fleet, nor spot to an on-demand fleet', () => {
    expect(keys(candidatePools({ ...spec, market: 'spot' }, 'a'))).toEqual([
      'spot:c7g.large@a',
      'spot:m7g.large@a',
      'spot:c7g.large@b',
      'spot:m7g.large@b',
    ]);
    expect(keys(candidatePools({ ...spec, market: 'on-demand' }, 'a'))).toEqual([
      'on-demand:c7g.large@a',
      'on-demand:m7g.large@a',
      'on-demand:c7g.large@b',
      'on-demand:m7g.large@b',
    ]);
  });

  it('tries avoided spot pools last on a spot-only fleet, rather than launch nothing', () => {
    const pools = candidatePools({ ...spec, market: 'spot' }, 'a', new Set(['c7g.large@a']));

    expect(keys(pools)).toEqual([
      'spot:m7g.large@a',
      'spot:c7g.large@b',
      'spot:m7g.large@b',
      'spot:c7g.large@a',
    ]);
  });

  it('leaves out avoided spot pools but keeps their on-demand twins', () => {
    const pools = candidatePools(
      { ...spec, market: 'spot-with-on-demand-fallback' },
      'a',
      new Set(['c7g.large@a']),
    );

    expect(keys(pools)).not.toContain('spot:c7g.large@a');
    expect(keys(pools)).toContain('on-demand:c7g.large@a');
    expect(keys(pools)[0]).toBe('spot:m7g.large@a');
  });
});
