import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** README's first command, as a newcomer runs it: the stack deployed into the emulator and the fleet's story run. */
describe('npm start', () => {
  it('runs the whole fleet story through the deployed rules and the real handlers, and sums it up', () => {
    const run = spawnSync('npm', ['start', '--silent'], {
      cwd: join(__dirname, '../..'),
      encoding: 'utf8',
      timeout: 150_000,
      env: { ...process.env, AWS_ENDPOINT_URL: undefined, POWERTOOLS_LOG_LEVEL: undefined },
    });
    const output = `${run.stdout}${run.stderr}`;

    expect({ code: run.status, output }).toEqual({ code: 0, output: expect.stringMatching(/\] done\n$/) });
    expect(output).toMatch(/stack deployed: worker-fleet-local, \d+ resources/);
    expect(output).toMatch(/rules routed: 9 deployed rules/);
    expect(output).toMatch(/1\. schedule fired +launched 4 workers for fleet batch .* \(1 SNS\)/);
    expect(output).toMatch(
      /2\. workers wrote +4 heartbeats \(2 idle, 2 busy\) and 4 results; 8 of 8 accesses logged/,
    );
    expect(output).toMatch(/3\. spot warning +notified \(2 SNS\), Worker Draining sent, replaced in /);
    expect(output).toMatch(/4\. warning redelivered +duplicate: nothing launched, published or sent/);
    expect(output).toMatch(/5\. reaper run 1 +marked 2 idle workers/);
    expect(output).toMatch(/reaper run 2 +terminated 2 idle workers/);
    expect(output).toMatch(/6\. access log landed +8 lines parsed, 8 attributed to workers/);
    // The summary, read back from the emulator.
    expect(output).toMatch(/fleet batch: 2 running, target 4/);
    expect(output).toContain(
      'summary: fleet batch: 5 workers launched, 1 interrupted, 1 replacement, 2 idle terminated, 2 running; 5 SNS messages',
    );
    for (const kind of ['launch', 'spot-interruption', 'replacement', 'idle-warning', 'idle-terminated']) {
      expect(output).toContain(`'${kind}'`);
    }
    // Nothing unexpected was logged: the handlers ran without a warning or an error.
    expect(output).not.toMatch(/"level":"(WARN|ERROR)"/);
  }, 180_000);
});
