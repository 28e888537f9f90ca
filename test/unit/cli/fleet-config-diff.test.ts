import { describeFleetConfigChange, diffFleetConfigs } from '../../../src/cli/fleet-config-diff';
import type { FleetSpec } from '../../../src/model/fleet-spec';

// Specs as the store's validation gives them; only the fields the diff reads matter here.
const spec = (fields: Record<string, unknown>) => fields as unknown as FleetSpec;

describe('diffFleetConfigs', () => {
  it('names fleets added and removed, and each changed field by its path, nested and set or unset', () => {
    const change = diffFleetConfigs(
      {
        batch: spec({ targetCapacity: 1, idle: { minWorkers: 1 }, keyName: 'ops' }),
        old: spec({ targetCapacity: 1 }),
      },
      {
        batch: spec({ targetCapacity: 1, idle: { minWorkers: 0 }, maxCapacity: 8 }),
        nightly: spec({ targetCapacity: 2 }),
      },
    );

    expect(change).toEqual({
      added: ['nightly'],
      removed: ['old'],
      changed: {
        batch: [
          { field: 'idle.minWorkers', from: 1, to: 0 },
          { field: 'keyName', from: 'ops' },
          { field: 'maxCapacity', to: 8 },
        ],
      },
    });
    expect(describeFleetConfigChange(change)).toEqual([
      '+ nightly (added)',
      '- old (removed)',
      '~ batch: idle.minWorkers 1 → 0',
      '~ batch: keyName "ops" → (unset)',
      '~ batch: maxCapacity (unset) → 8',
    ]);
  });

  it('compares lists whole and finds no change in equal fleets', () => {
    const fleets = { batch: spec({ instanceTypes: ['a', 'b'], tags: { team: 'x' } }) };
    const reordered = { batch: spec({ instanceTypes: ['b', 'a'], tags: { team: 'x' } }) };

    expect(describeFleetConfigChange(diffFleetConfigs(fleets, fleets))).toEqual(['no change']);
    expect(diffFleetConfigs(fleets, reordered).changed.batch).toEqual([
      { field: 'instanceTypes', from: ['a', 'b'], to: ['b', 'a'] },
    ]);
  });
});
