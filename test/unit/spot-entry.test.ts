import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';

const ROOT = join(__dirname, '../..');

/** The handler bundled as serverless.yml bundles it (ESM, code splitting), with the map of what went where. */
async function bundle(handler: string): Promise<Metafile> {
  const result = await build({
    entryPoints: [join(ROOT, handler)],
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    mainFields: ['module', 'main'],
    loader: { '.sh': 'text' },
    outdir: join(ROOT, '.esbuild/spot-entry-test'),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return result.metafile;
}

/** Every source the entry loads before its first line runs: its own output and the chunks it imports statically. */
function loadedAtInit(metafile: Metafile, entry: string): string[] {
  const [entryOutput] = Object.entries(metafile.outputs).filter(([, output]) => output.entryPoint === entry);
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imported of metafile.outputs[path]?.imports ?? []) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  if (entryOutput !== undefined) visit(entryOutput[0]);
  return [...seen].flatMap((path) => Object.keys(metafile.outputs[path]?.inputs ?? {}));
}

const reachesEc2Client = (inputs: readonly string[]) =>
  inputs.some((input) => input.includes('node_modules/@aws-sdk/client-ec2/'));

describe("the spot handler's entry", () => {
  it('loads S3 and SNS for the notification, and the EC2 client only in its second phase', async () => {
    const metafile = await bundle('src/handlers/spot-interruption.ts');
    const atInit = loadedAtInit(metafile, 'src/handlers/spot-interruption.ts');

    expect(atInit.some((input) => input.includes('node_modules/@aws-sdk/client-sns/'))).toBe(true);
    expect(atInit).toContain('src/fleet/interruption-notice.ts');
    expect(reachesEc2Client(atInit)).toBe(false);
    expect(reachesEc2Client(Object.keys(metafile.inputs))).toBe(true);
  }, 60_000);

  it('loads neither the EventBridge client nor Powertools Metrics before the notification', async () => {
    const metafile = await bundle('src/handlers/spot-interruption.ts');
    const atInit = loadedAtInit(metafile, 'src/handlers/spot-interruption.ts');
    const reaches = (inputs: readonly string[], module: string) =>
      inputs.some((input) => input.includes(`node_modules/${module}/`));

    expect(reaches(atInit, '@aws-sdk/client-eventbridge')).toBe(false);
    expect(reaches(atInit, '@aws-lambda-powertools/metrics')).toBe(false);
    expect(atInit).not.toContain('src/aws/notification-event.ts');
    // Both are in the second phase: the warning's event and the metrics are still there, after the notification.
    expect(reaches(Object.keys(metafile.inputs), '@aws-sdk/client-eventbridge')).toBe(true);
    expect(reaches(Object.keys(metafile.inputs), '@aws-lambda-powertools/metrics')).toBe(true);
  }, 60_000);

  it('is seen to reach the EC2 client when a handler imports it statically', async () => {
    const metafile = await bundle('src/handlers/launch-workers.ts');

    expect(reachesEc2Client(loadedAtInit(metafile, 'src/handlers/launch-workers.ts'))).toBe(true);
  }, 60_000);
});
