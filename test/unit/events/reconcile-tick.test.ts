import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidEventError } from '../../../src/errors';
import { parseLaunchTrigger } from '../../../src/events/launch';

const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '../../../events', name), 'utf8'));

describe('parseLaunchTrigger: the reconcile schedule', () => {
  it('reads its input as a reconciliation of every fleet, asking no size', () => {
    expect(parseLaunchTrigger(sample('reconcile-tick.json'), 'lambda-request-1')).toStrictEqual({
      kind: 'reconcile',
      id: 'lambda-request-1',
    });
  });

  it('reconciles one fleet when it names one', () => {
    expect(parseLaunchTrigger({ reconcile: true, fleet: 'batch' }, 'r-1')).toEqual({
      kind: 'reconcile',
      id: 'r-1',
      fleet: 'batch',
    });
  });

  it('refuses a reconciliation that also asks a size, or is not true, saying it was a reconcile request', () => {
    expect(() => parseLaunchTrigger({ reconcile: true, fleet: 'batch', count: 2 }, 'r-1')).toThrow(
      InvalidEventError,
    );
    expect(() => parseLaunchTrigger({ reconcile: false }, 'r-1')).toThrow('malformed reconcile request: ');
  });
});
