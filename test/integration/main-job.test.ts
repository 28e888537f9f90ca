import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** README's first command, as a newcomer runs it: the stack deployed into the emulator and the launcher fired. */
describe('npm start', () => {
  it('deploys the stack into the emulator, launches the fleet, and finds it full on the second run', () => {
    const run = spawnSync('npm', ['start', '--silent'], {
      cwd: join(__dirname, '../..'),
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, AWS_ENDPOINT_URL: undefined },
    });
    const output = `${run.stdout}${run.stderr}`;

    expect({ code: run.status, output }).toEqual({ code: 0, output: expect.stringContaining('done') });
    expect(output).toMatch(/stack deployed: worker-fleet-local, \d+ resources/);
    expect(output).toContain('schedule fired: launched 4 workers for fleet batch');
    expect(output).toContain('schedule fired again: fleet batch at capacity (4 workers), launched nothing');
    expect(output).toContain('access log delivered: 8 accesses logged, 8 attributed to workers');
  }, 150_000);
});
