import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentEnv, composeUserData } from '../../../src/agent/user-data';
import { ConfigError } from '../../../src/errors';
import { fleetSpecSchema, MAX_USER_DATA_BYTES } from '../../../src/model/fleet-spec';
import { fleetJson } from '../fixtures';

const target = {
  fleetBucket: 'worker-fleet-dev-fleet-1a2b3c',
  region: 'eu-west-1',
  workerRoleId: 'AROAEXAMPLEWORKER0001',
  fleet: 'batch',
};
const spec = (overrides: Record<string, unknown> = {}) => fleetSpecSchema.parse(fleetJson(overrides));
const agentSource = readFileSync(join(__dirname, '../../../src/agent/worker-agent.sh'), 'utf8');

describe('composeUserData', () => {
  it('installs the tested agent script, every line but its comments unchanged, then runs the fleet script', () => {
    const userData = composeUserData(spec({ userData: '#!/bin/bash\necho ready\n' }), target) ?? '';
    const code = agentSource
      .trimEnd()
      .split('\n')
      .filter((line, index) => index === 0 || !line.trimStart().startsWith('#'));

    expect(userData.startsWith('Content-Type: multipart/mixed; boundary=')).toBe(true);
    expect(userData).toContain(`<<'WF_AGENT'\n${code.join('\n')}\nWF_AGENT\n`);
    expect(code[0]).toBe('#!/bin/sh');
    expect(userData.indexOf('filename="10-worker-fleet-agent.sh"')).toBeLessThan(
      userData.indexOf('filename="20-fleet.sh"'),
    );
    expect(userData).toContain('#!/bin/bash\necho ready\n');
    expect(userData).toContain(
      'systemctl daemon-reload && systemctl enable --now worker-fleet-agent.service',
    );
  });

  it('keeps cloud-config as cloud-config and gives a bare script a shell', () => {
    expect(composeUserData(spec({ userData: '#cloud-config\npackages: [git]\n' }), target)).toContain(
      'Content-Type: text/cloud-config',
    );
    expect(composeUserData(spec({ userData: 'echo plain\n' }), target)).toContain('#!/bin/sh\necho plain\n');
  });

  it('stays under 16 KB with a 6 KB fleet script', () => {
    const userData =
      composeUserData(spec({ userData: `#!/bin/sh\n${'echo work\n'.repeat(600)}` }), target) ?? '';

    expect(Buffer.byteLength(userData)).toBeLessThanOrEqual(MAX_USER_DATA_BYTES);
  });

  it('refuses user data that the agent would push over 16 KB, naming the fleet', () => {
    const big = spec({ userData: `#!/bin/sh\n${'x'.repeat(15_000)}\n` });

    expect(() => composeUserData(big, target)).toThrow(ConfigError);
    expect(() => composeUserData(big, target)).toThrow(
      /fleet batch: user data with the worker agent is \d+ bytes/,
    );
  });

  it('sends the fleet user data alone when the agent is off', () => {
    expect(
      composeUserData(spec({ userData: '#!/bin/sh\necho hi\n', agent: { enabled: false } }), target),
    ).toBe('#!/bin/sh\necho hi\n');
  });
});

describe('agentEnv', () => {
  it('writes the settings single-quoted, so nothing is expanded on the worker', () => {
    const env = agentEnv(
      spec({ agent: { busyFile: '/run/work/status', drainCommand: "systemctl stop 'my job' && $HOME/x" } }),
      target,
    );

    expect(env.split('\n')).toEqual([
      "WF_BUCKET='worker-fleet-dev-fleet-1a2b3c'",
      "WF_REGION='eu-west-1'",
      "WF_ROLE_ID='AROAEXAMPLEWORKER0001'",
      "WF_HEARTBEAT_SECONDS='60'",
      "WF_BUSY_FILE='/run/work/status'",
      "WF_DRAIN_COMMAND='systemctl stop '\\''my job'\\'' && $HOME/x'",
      "WF_DRAIN_TIMEOUT_SECONDS='90'",
      "WF_PLANNED_DRAIN_TIMEOUT_SECONDS='540'",
    ]);
  });

  describe('with a setting written to break out of the settings file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-user-data-'));
    const pwned = join(dir, 'pwned');
    const hostile = `/run/status'\nWF_ENV\ntouch ${pwned}\n`;
    const userData =
      composeUserData(
        spec({ agent: { busyFile: hostile, drainCommand: `x\nWF_ENV\ntouch ${pwned}` } }),
        target,
      ) ?? '';
    const lines = userData.split('\n');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const start = lines.indexOf("base64 -d > /etc/worker-fleet/agent.env <<'WF_ENV'");
    const end = lines.indexOf('WF_ENV', start);

    it('carries it inside the here-document, where no line can end it early', () => {
      const body = lines.slice(start + 1, end);

      expect(start).toBeGreaterThan(0);
      expect(body.every((line) => /^[A-Za-z0-9+/=]+$/.test(line))).toBe(true);
      expect(Buffer.from(body.join(''), 'base64').toString()).toBe(
        `${agentEnv(spec({ agent: { busyFile: hostile, drainCommand: `x\nWF_ENV\ntouch ${pwned}` } }), target)}\n`,
      );
      expect(lines.filter((line) => line.includes('touch'))).toEqual([]);
    });

    it('runs no line of it as a command, and the agent reads the value back unchanged', () => {
      // The installer up to the agent's own install, run for real with the settings file moved into a test folder.
      const agentInstall = lines.indexOf("cat > /usr/local/bin/worker-fleet-agent <<'WF_AGENT'");
      const script = lines
        .slice(lines.indexOf('#!/bin/sh'), agentInstall)
        .join('\n')
        .replaceAll('/etc/worker-fleet', join(dir, 'etc'));
      execFileSync('sh', ['-c', script], { cwd: dir });

      expect(existsSync(pwned)).toBe(false);
      expect(
        execFileSync('sh', ['-c', '. "$0"; printf %s "$WF_BUSY_FILE"', join(dir, 'etc', 'agent.env')], {
          encoding: 'utf8',
        }),
      ).toBe(hostile);
    });
  });
});
