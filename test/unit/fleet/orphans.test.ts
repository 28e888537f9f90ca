import { orphansAmong } from '../../../src/fleet/orphans';
import { TAG } from '../../../src/model/tags';
import { workerWith } from '../fixtures';

const of = (instanceId: string, fleet?: string) =>
  workerWith({ instanceId, tags: fleet === undefined ? {} : { [TAG.fleet]: fleet } });

describe('orphansAmong', () => {
  it('groups the workers of fleets that are not configured by their fleet, in name order', () => {
    const workers = [of('i-1', 'batch'), of('i-2', 'old'), of('i-3', 'gone'), of('i-4', 'old')];

    expect(orphansAmong(workers, ['batch'])).toEqual([
      { fleet: 'gone', workers: [workers[2]] },
      { fleet: 'old', workers: [workers[1], workers[3]] },
    ]);
  });

  it('finds none when every worker’s fleet is configured, or there are no workers', () => {
    expect(orphansAmong([of('i-1', 'batch')], ['batch', 'nightly'])).toEqual([]);
    expect(orphansAmong([], ['batch'])).toEqual([]);
  });

  it('counts a worker without a fleet tag as an orphan of no fleet', () => {
    expect(orphansAmong([of('i-1')], ['batch'])).toEqual([{ fleet: '', workers: [of('i-1')] }]);
  });
});
