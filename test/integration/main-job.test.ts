import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

/** Resolves with everything the process wrote once `pattern` appears in it; rejects if it exits first. */
function outputUntil(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) resolve(output);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`the sandbox exited with ${code} before ${pattern}:\n${output}`)),
    );
  });
}

/** README's first command, as a newcomer runs it: the stack deployed into the emulator and the fleet's story run. */
describe('npm start', () => {
  it('runs the whole fleet story through the deployed rules and the real handlers, and sums it up', () => {
    const run = spawnSync('npm', ['start', '--silent'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 150_000,
      env: { ...process.env, AWS_ENDPOINT_URL: undefined, POWERTOOLS_LOG_LEVEL: undefined },
    });
    const output = `${run.stdout}${run.stderr}`;

    expect({ code: run.status, output }).toEqual({ code: 0, output: expect.stringMatching(/\] done\n$/) });
    expect(output).toMatch(/stack deployed: worker-fleet-local, \d+ resources/);
    expect(output).toMatch(/rules routed: 12 deployed rules/);
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
    // Its sizes (target, desired, floor, max, running, in flight): the reaper asked to lower the desired size to the
    // floor, one request per idle worker retired, which the next reconciliation pass applies.
    expect(output).toMatch(/\nbatch +4 +4 +2 +4 +2 +0\n/);
    expect(output).toMatch(/\nfleet batch: 2 running; 2 size requests for the next pass\n/);
    expect(output).toContain(
      'summary: fleet batch: 5 workers launched, 1 interrupted, 1 replacement, 2 idle terminated, 2 running; 5 SNS messages',
    );
    // The metrics the functions emitted, per fleet: as many launched and terminated as the summary counts.
    const metricRow = (metric: string, market: string, value: number) =>
      new RegExp(`\nbatch +${market === '' ? '' : `${market} +`}${metric} +Count +${value}\n`);
    expect(output).toContain('Metrics the functions emitted (namespace WorkerFleet), per fleet:');
    expect(output).toMatch(metricRow('WorkersLaunched', '', 5));
    expect(output).toMatch(metricRow('IdleTerminated', '', 2));
    expect(output).not.toContain('{"_aws"');
    for (const kind of ['launch', 'spot-interruption', 'replacement', 'idle-warning', 'idle-terminated']) {
      expect(output).toMatch(new RegExp(`\n${kind} +worker-fleet`));
    }
    // Nothing unexpected was logged: the handlers ran without a warning or an error.
    expect(output).not.toMatch(/"level":"(WARN|ERROR)"/);
  }, 180_000);
});

/** `npm start -- --keep`: the emulator stays up and the printed commands work against it, as printed. */
describe('npm start -- --keep', () => {
  it('leaves the deployed emulator running for the commands it prints, and stops on Ctrl-C', async () => {
    const sandbox = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['local/sandbox.ts', '--keep'], {
      cwd: ROOT,
      env: { ...process.env, AWS_ENDPOINT_URL: undefined, POWERTOOLS_LOG_LEVEL: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => sandbox.once('exit', resolve));
    try {
      // The story ends with a status command too: wait for the one among the hints.
      const output = await outputUntil(
        sandbox,
        /emulator kept running[\s\S]*npm run -s cli -- status [^\n]*\n/,
      );
      const hints = output.slice(output.indexOf('emulator kept running'));
      const exports = hints.split('\n').filter((line) => line.trim().startsWith('export '));
      const commands = hints.split('\n').filter((line) => /^(npx|npm) /.test(line.trim()));
      expect(exports).toHaveLength(2);
      expect(commands.map((line) => line.trim().split(' ').slice(0, 5).join(' '))).toEqual([
        'npx serverless invoke local -f',
        'npx serverless invoke local -f',
        'npm run -s cli --',
      ]);

      // Each printed command, in a shell with the printed exports, as a user pastes them.
      const run = (command: string) =>
        spawnSync('bash', ['-c', [...exports, command].join('\n')], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, AWS_ENDPOINT_URL: undefined, POWERTOOLS_LOG_LEVEL: 'SILENT' },
          timeout: 120_000,
        });
      const [launch, reap, status] = commands.map(run);
      expect({ code: launch?.status, output: launch?.stdout }).toEqual({
        code: 0,
        output: expect.stringContaining('"fleet": "batch"'),
      });
      expect(launch?.stdout).toMatch(/"launched": \[/);
      expect({ code: reap?.status, output: reap?.stdout }).toEqual({
        code: 0,
        output: expect.stringContaining('"dryRun": true'),
      });
      expect({ code: status?.status, output: status?.stdout }).toEqual({
        code: 0,
        output: expect.stringMatching(/\nbatch +4 +\d+ +2 +\d+ +\d+ +\d+\n/),
      });
    } finally {
      sandbox.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 300_000);
});
