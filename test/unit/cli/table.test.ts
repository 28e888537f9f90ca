import { formatTable } from '../../../src/cli/table';

describe('formatTable', () => {
  it('aligns columns under upper-case headings, the first row naming them, absent cells as -', () => {
    const text = formatTable([
      { fleet: 'batch', desired: 12, note: undefined },
      { fleet: 'nightly-long', desired: 3, note: 'capped' },
    ]);

    expect(text.split('\n')).toEqual([
      'FLEET         DESIRED  NOTE',
      'batch         12       -',
      'nightly-long  3        capped',
    ]);
  });

  it('prints nothing for no rows', () => {
    expect(formatTable([])).toBe('');
  });
});
