import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { cliFleets, deployLauncher } from './cli-deployment';
import { createFleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

const emulator = useEmulator();
/** An empty folder the packed package is installed into: nothing of the repository's node_modules reaches it. */
const folder = mkdtempSync(join(tmpdir(), 'worker-fleet-package-'));
let files: string[];

beforeAll(async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', folder], { cwd: ROOT });
  const [tarball] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')));
  files = tarball.files.map((file: { path: string }) => file.path).sort();
  writeFileSync(join(folder, 'package.json'), '{ "private": true }\n');
  await run(
    'npm',
    [
      'install',
      `./${tarball.filename}`,
      '--omit=dev',
      '--prefer-offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
    ],
    { cwd: folder },
  );
}, 300_000);

afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The installed `worker-fleet` command, as a user runs it: the emulator's endpoint, dummy credentials, a region. */
const workerFleet = (...args: string[]) =>
  run(join(folder, 'node_modules', '.bin', 'worker-fleet'), args, {
    cwd: folder,
    env: {
      PATH: process.env.PATH,
      HOME: folder,
      AWS_ENDPOINT_URL: emulator().endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
    },
  });

describe('the packed package', () => {
  it('ships the bundle, the readme, the licence and the changelog, and installs no dev dependency', () => {
    expect(files).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist/cli.mjs', 'package.json']);
    for (const dev of ['tsx', 'esbuild', 'typescript', 'serverless', 'jest']) {
      expect({ dev, installed: existsSync(join(folder, 'node_modules', dev)) }).toEqual({
        dev,
        installed: false,
      });
    }
  });

  it('runs worker-fleet --version and --help with its runtime dependencies alone', async () => {
    const shown = await workerFleet('--version');
    const help = await workerFleet('--help');

    expect(shown.stdout.trim()).toBe(version);
    expect(help.stdout).toMatch(/^Usage: worker-fleet <command> \[options\]/);
    for (const command of ['status', 'launch', 'reap', 'drain'])
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('runs worker-fleet status against a deployed stage', async () => {
    const world = await createFleetWorld(emulator());
    await deployLauncher(emulator(), world);
    const [launched] = await launchWorkers(world.deps(cliFleets(world)), {
      kind: 'direct',
      id: 'package-test',
      fleet: 'batch',
      target: 1,
    });
    const [worker] = launched?.launched ?? [];

    const table = await workerFleet('status', '--stage', 'test');
    const json = await workerFleet('status', '--stage', 'test', '--output', 'json');

    expect(table.stdout).toContain('batch  2       1        0      6    1        0');
    expect(table.stdout).toContain('fleet batch: 1 running');
    expect(table.stdout).toContain(worker?.instanceId);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        fleet: 'batch',
        workers: [expect.objectContaining({ instanceId: worker?.instanceId })],
      }),
    ]);
  });

  it('packs from a clean clone: only the committed files and the installed dependencies, no dist/ of before', async () => {
    const clone = mkdtempSync(join(tmpdir(), 'worker-fleet-clone-'));
    try {
      // What a clone holds (the committed tree, dist/ ignored), with the dependencies `npm ci` would install.
      await run('sh', ['-c', `git -C "${ROOT}" archive --format=tar HEAD | tar -x -C "${clone}"`]);
      symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
      expect(existsSync(join(clone, 'dist'))).toBe(false);

      const packed = await run('npm', ['pack', '--json', '--pack-destination', clone], { cwd: clone });
      const [tarball] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')));
      const bundle = await run(process.execPath, [join(clone, 'dist', 'cli.mjs'), '--version'], {
        cwd: clone,
      });

      expect(tarball.files.map((file: { path: string }) => file.path)).toContain('dist/cli.mjs');
      expect(bundle.stdout.trim()).toBe(version);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  }, 120_000);
});
