import { editDistance, nearestOption } from '../../../src/cli/option-check';

describe('editDistance', () => {
  it.each([
    ['force', 'force', 0],
    ['froce', 'force', 1],
    ['cout', 'count', 1],
    ['dryrun', 'dry-run', 1],
    ['regoin', 'region', 1],
    ['stage', 'stag', 1],
    ['', 'json', 4],
    ['colour', 'count', 4],
  ])('%s to %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('nearestOption', () => {
  const names = ['stage', 'region', 'profile', 'output', 'json', 'fleet', 'count', 'dry-run', 'force'];

  it('takes the one option a name begins, however far', () => {
    expect(nearestOption('dry', names)).toBe('dry-run');
    expect(nearestOption('pro', names)).toBe('profile');
  });

  it('takes the closest within two edits, the first on a tie', () => {
    expect(nearestOption('fleat', names)).toBe('fleet');
    expect(nearestOption('outptu', names)).toBe('output');
    expect(nearestOption('jsno', names)).toBe('json');
  });

  it('suggests nothing when nothing is near, or when the name is too short to tell', () => {
    expect(nearestOption('colour', names)).toBeUndefined();
    expect(nearestOption('verbose', names)).toBeUndefined();
    expect(nearestOption('x', names)).toBeUndefined();
    expect(nearestOption('f', names)).toBeUndefined();
  });
});
