import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerless } from '../../local/serverless-cli';

/** The fleets file's reader, as the framework's helpers use it (config/fleets.cjs). */
const { readFleetsFile } = require('../../config/fleets.cjs') as {
  readFleetsFile: (file: string) => {
    problems: { line?: number; text: string }[];
    warnings: { line?: number; text: string }[];
  };
};

/** A fleets file of these lines, in a directory of its own. */
function fleetsFile(...lines: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'worker-fleet-fleets-')), 'fleets.yml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const BATCH = [
  'batch:',
  '  ami: ami-0123456789abcdef0',
  '  instanceTypes: [c7g.large, m7g.huge]',
  '  subnets: [subnet-0123456789abcdef0]',
  '  market: spot',
];

describe('a bad fleets file at package time', () => {
  it('prints one block, once, naming the file, the path and the line, and packages nothing', async () => {
    const file = fleetsFile(...BATCH, '  targetCapacity: two');

    const run = await runServerless(
      undefined,
      ['package', '--stage', 'test', '--package', join(file, '..', 'out')],
      {
        WORKER_FLEET_FLEETS_FILE: file,
      },
    );

    expect(run.code).toBe(1);
    expect(run.output.trim()).toBe(
      [
        `${file} is invalid (1 problem; docs/configuration.md):`,
        `  ${file}:6  batch.targetCapacity: Invalid input: expected number, received string`,
      ].join('\n'),
    );
  });

  it('names every problem at its line, a missing field at its fleet', () => {
    const file = fleetsFile(
      'batch:',
      '  ami: ami-0123456789abcdef0',
      '  instanceTypes: []',
      '  market: spot',
    );

    expect(readFleetsFile(file).problems).toEqual([
      { line: 3, text: 'batch.instanceTypes: at least one instance type is required' },
      { line: 1, text: 'batch.subnets: Invalid input: expected array, received undefined' },
      { line: 1, text: 'batch.targetCapacity: Invalid input: expected number, received undefined' },
    ]);
  });

  it('names a disruption window the reaper could not read (the parser refuses it), at its line', () => {
    const file = fleetsFile(
      ...BATCH,
      '  targetCapacity: 2',
      '  disruption:',
      '    windows:',
      '      - cron: "0 2 * * MON-FRI"',
      '        durationMinutes: 60',
      '      - cron: "0 0 30 2 *"',
      '        durationMinutes: 60',
    );

    expect(readFleetsFile(file).problems).toEqual([
      {
        line: 11,
        text: expect.stringMatching(
          /^batch\.disruption\.windows\.1\.cron: not a cron expression the reaper can read: /,
        ),
      },
    ]);
  });

  it('names a YAML syntax error at its line', () => {
    const file = fleetsFile('batch:', '  ami: [ami-0123456789abcdef0', '  market: spot');

    expect(readFleetsFile(file).problems).toEqual([
      { line: expect.any(Number), text: expect.stringMatching(/^YAML: Flow sequence/) },
    ]);
  });

  it('warns on an instance type the SDK does not know, at its line, and accepts the fleet', () => {
    const file = fleetsFile(...BATCH, '  targetCapacity: 2');

    expect(readFleetsFile(file)).toMatchObject({
      problems: [],
      warnings: [
        {
          line: 3,
          text: expect.stringMatching(/^batch\.instanceTypes\.1: m7g\.huge is not an instance type/),
        },
      ],
    });
  });
});
