import { readFileSync } from 'node:fs';
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
  it('installs the tested agent script unchanged, then runs the fleet script', () => {
    const userData = composeUserData(spec({ userData: '#!/bin/bash\necho ready\n' }), target) ?? '';

    expect(userData.startsWith('Content-Type: multipart/mixed; boundary=')).toBe(true);
    expect(userData).toContain(`<<'WF_AGENT'\n${agentSource.trimEnd()}\nWF_AGENT\n`);
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
      "WF_HEARTBEAT_SECONDS='60'",
      "WF_BUSY_FILE='/run/work/status'",
      "WF_DRAIN_COMMAND='systemctl stop '\\''my job'\\'' && $HOME/x'",
      "WF_DRAIN_TIMEOUT_SECONDS='90'",
    ]);
  });
});
