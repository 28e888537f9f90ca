import { TAG } from '../../../src/model/tags';
import { replacedInstance, replacesTag } from '../../../src/model/worker';

const launchedTo = (replaces: readonly string[], launchIndex?: number) => ({
  tags: { [TAG.replaces]: replacesTag(replaces) },
  ...(launchIndex === undefined ? {} : { launchIndex }),
});

describe('replacedInstance: the worker a replacement replaces', () => {
  it('is the one its launch replaced, for a launch of one', () => {
    expect(replacedInstance(launchedTo(['i-1']))).toBe('i-1');
  });

  it('is the one at its launch index, for a launch of several', () => {
    expect([0, 1, 2].map((index) => replacedInstance(launchedTo(['i-1', 'i-2', 'i-3'], index)))).toEqual([
      'i-1',
      'i-2',
      'i-3',
    ]);
  });

  it('is none for a worker that replaces none, or whose launch index the tag does not cover', () => {
    expect(replacedInstance({ tags: {} })).toBeUndefined();
    expect(replacedInstance(launchedTo(['i-1', 'i-2']))).toBeUndefined();
    expect(replacedInstance(launchedTo(['i-1', 'i-2'], 2))).toBeUndefined();
  });
});
