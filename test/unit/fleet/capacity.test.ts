import { planCapacity } from '../../../src/fleet/capacity';

const spec = { targetCapacity: 4, maxCapacity: 6 };

describe('planCapacity', () => {
  it.each([
    // active, request, toLaunch, desired, capped
    [0, {}, 4, 4, false],
    [3, {}, 1, 4, false],
    [4, {}, 0, 4, false],
    [5, {}, 0, 5, false],
    [2, { target: 5 }, 3, 5, false],
    [2, { target: 9 }, 4, 6, true],
    [4, { target: 0 }, 0, 4, false],
    [4, { count: 2 }, 2, 6, false],
    [4, { count: 3 }, 2, 6, true],
    [6, { count: 1 }, 0, 6, true],
    [7, { count: 0 }, 0, 7, false],
  ])(
    'with %i active and %j launches %i (fleet of %i, capped %s)',
    (active, request, toLaunch, desired, capped) => {
      expect(planCapacity(spec, active, request)).toEqual({ toLaunch, desired, capped });
    },
  );
});
