import { ConfigError } from '../errors';
import type { FleetSpec } from '../model/fleet-spec';
import { MAX_USER_DATA_BYTES } from '../model/fleet-spec';
import agentScript from './worker-agent.sh';

const BOUNDARY = '==worker-fleet-user-data==';

/** Single-quoted for sh: nothing in a value is ever expanded on the worker. */
const quoted = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * The agent's settings file, from the fleet spec and the deployment. `WF_ROLE_ID` names the worker's keys
 * (`<role-id>:<instance-id>`, its `${aws:userid}`).
 */
export function agentEnv(
  spec: Pick<FleetSpec, 'agent'>,
  target: { fleetBucket: string; region: string; workerRoleId: string },
): string {
  const { agent } = spec;
  const settings: Record<string, string | number | undefined> = {
    WF_BUCKET: target.fleetBucket,
    WF_REGION: target.region,
    WF_ROLE_ID: target.workerRoleId,
    WF_HEARTBEAT_SECONDS: agent.heartbeatSeconds,
    WF_BUSY_FILE: agent.busyFile,
    WF_BUSY_COMMAND: agent.busyCommand,
    WF_DRAIN_COMMAND: agent.drainCommand,
    WF_DRAIN_TIMEOUT_SECONDS: agent.drainTimeoutSeconds,
    WF_PLANNED_DRAIN_TIMEOUT_SECONDS: agent.plannedDrainTimeoutSeconds,
  };
  return Object.entries(settings)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${quoted(String(value))}`)
    .join('\n');
}

/**
 * The settings travel base64-encoded: its alphabet has no `_`, so no line of it is `WF_ENV` and none ends the
 * here-document early, whatever a fleet's setting holds (a newline, a quote, `WF_ENV` itself).
 */
const base64Lines = (text: string) =>
  Buffer.from(text)
    .toString('base64')
    .match(/.{1,76}/g) ?? [];

/**
 * The agent as installed: the tested script without its comment lines (the shebang kept), so that the agent and a
 * fleet's own script fit EC2's 16 KB together. The script has no here-document line starting with `#`, so only
 * comments go.
 */
export const installedAgent = (script: string) =>
  script
    .trimEnd()
    .split('\n')
    .filter((line, index) => index === 0 || !/^\s*#/.test(line))
    .join('\n');

function installer(env: string): string {
  return [
    '#!/bin/sh',
    '# worker-fleet: install and start the worker agent (heartbeats, spot notice, drain hook).',
    'install -d -m 0755 /etc/worker-fleet',
    "base64 -d > /etc/worker-fleet/agent.env <<'WF_ENV'",
    ...base64Lines(`${env}\n`),
    'WF_ENV',
    "cat > /usr/local/bin/worker-fleet-agent <<'WF_AGENT'",
    installedAgent(agentScript),
    'WF_AGENT',
    'chmod 0755 /usr/local/bin/worker-fleet-agent',
    'if command -v systemctl >/dev/null 2>&1; then',
    "  cat > /etc/systemd/system/worker-fleet-agent.service <<'WF_UNIT'",
    '[Unit]',
    'Description=worker-fleet agent',
    'After=network-online.target',
    '[Service]',
    'ExecStart=/usr/local/bin/worker-fleet-agent',
    'Restart=always',
    'RestartSec=5',
    // the agent's exit status for a setting or a curl it cannot work with: restarting would not help
    'RestartPreventExitStatus=78',
    '[Install]',
    'WantedBy=multi-user.target',
    'WF_UNIT',
    '  systemctl daemon-reload && systemctl enable --now worker-fleet-agent.service',
    'else',
    '  nohup /usr/local/bin/worker-fleet-agent >>/var/log/worker-fleet-agent.log 2>&1 &',
    'fi',
  ].join('\n');
}

function part(contentType: string, filename: string, body: string): string {
  return [
    `--${BOUNDARY}`,
    `Content-Type: ${contentType}; charset="utf-8"`,
    'MIME-Version: 1.0',
    `Content-Disposition: attachment; filename="${filename}"`,
    '',
    body,
  ].join('\n');
}

/** The fleet's own user data as a cloud-init part: cloud-config stays cloud-config, anything else runs as sh. */
function fleetPart(userData: string): string {
  if (userData.startsWith('#cloud-config')) return part('text/cloud-config', '20-fleet.cfg', userData);
  const script = userData.startsWith('#!') ? userData : `#!/bin/sh\n${userData}`;
  return part('text/x-shellscript', '20-fleet.sh', script);
}

/**
 * The user data a worker boots with: the agent's installer first, then the fleet's own user data (cloud-init runs
 * the parts in file-name order), as MIME multipart. Without the agent, the fleet's user data as it is. Fails when
 * the result is over EC2's 16 KB.
 */
export function composeUserData(
  spec: Pick<FleetSpec, 'agent' | 'userData'>,
  target: { fleetBucket: string; region: string; workerRoleId: string; fleet: string },
): string | undefined {
  if (!spec.agent.enabled) return spec.userData;
  const parts = [part('text/x-shellscript', '10-worker-fleet-agent.sh', installer(agentEnv(spec, target)))];
  if (spec.userData !== undefined) parts.push(fleetPart(spec.userData));
  const userData = [
    `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
    'MIME-Version: 1.0',
    '',
    ...parts,
    `--${BOUNDARY}--`,
    '',
  ].join('\n');
  const size = Buffer.byteLength(userData);
  if (size > MAX_USER_DATA_BYTES) {
    throw new ConfigError(
      `fleet ${target.fleet}: user data with the worker agent is ${size} bytes, over EC2's ${MAX_USER_DATA_BYTES}; shorten userData or set agent.enabled: false`,
    );
  }
  return userData;
}
