/**
 * Cold start: for each function's packaged bundle, the whole-process time and peak memory of starting Node and
 * being ready for the first event, against an empty Node process in the same run. Ready is the handler module
 * loaded with the deployment's environment (its configuration and clients are built at init) and, for the spot
 * handler, its second phase (the EC2 chunk it imports once a warning's notification is out). "Load" is the
 * handler module alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packagedFunctionEnv } from '../local/deployment-env';
import { runServerless } from '../local/serverless-cli';
import { extractZip } from '../local/zip-archive';

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface ColdStart {
  readonly name: string;
  readonly zipBytes?: number;
  readonly bundleBytes?: number;
  readonly wallSeconds: Spread;
  readonly peakMemoryMB: Spread;
  readonly timeRatio: number;
  readonly memoryRatio: number;
  /** The handler module and its second phase, if it has one, both loaded: ready to handle the first event. */
  readonly ready?: {
    readonly wallSeconds: Spread;
    readonly peakMemoryMB: Spread;
    readonly timeRatio: number;
    readonly memoryRatio: number;
  };
  /** Every chunk the zip holds, entry included. */
  readonly chunksBytes?: number;
  /** The function's memory size in the packaged template. */
  readonly memoryMB?: number;
}

const spread = (values: number[]): Spread => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? 0, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0 };
};

/** Runs `node -e script` `runs` times: wall time of the whole process and its peak resident memory. */
function measureNode(
  script: string,
  runs: number,
  env: Record<string, string> = {},
): { wall: Spread; memory: Spread } {
  const walls: number[] = [];
  const memories: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    walls.push((performance.now() - started) / 1000);
    if (child.status !== 0) throw new Error(`node exited with ${child.status}: ${child.stderr}`);
    memories.push(Number(child.stdout.trim()) / 1024);
  }
  return { wall: spread(walls), memory: spread(memories) };
}

const printPeakMemory = 'process.stdout.write(String(process.resourceUsage().maxRSS));';

/** A function as `serverless package` built it, unzipped: its handler module and the phase it loads later, if any. */
export interface PackagedFunction {
  readonly name: string;
  readonly zip: string;
  readonly entry: string;
  /** The chunk of a module the handler imports at run time (the spot handler's EC2 phase); shared chunks aside. */
  readonly deferred?: string;
  readonly files: readonly string[];
  readonly memoryMB?: number;
  /** The function's environment in the packaged template, with the values of references left to the caller. */
  readonly environment: Readonly<Record<string, unknown>>;
}

let packaging: Promise<PackagedFunction[]> | undefined;

/**
 * Packages the stack offline and unzips each function, once per benchmark run (the cold-start and reaction
 * sections load the same bundles); fails if one ships node_modules or lacks its chunks.
 */
export function packageFunctions(): Promise<PackagedFunction[]> {
  packaging ??= packageStack();
  return packaging;
}

async function packageStack(): Promise<PackagedFunction[]> {
  const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-bench-package-'));
  const packaged = await runServerless(undefined, ['package', '--stage', 'bench', '--package', dir]);
  if (packaged.code !== 0) throw new Error(`serverless package failed:\n${packaged.output}`);
  const template = JSON.parse(
    readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as {
    Resources: Record<
      string,
      {
        Type: string;
        Properties: {
          FunctionName?: string;
          MemorySize?: number;
          Environment?: { Variables?: Record<string, unknown> };
        };
      }
    >;
  };
  const functionNamed = (name: string) =>
    Object.values(template.Resources).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' && resource.Properties.FunctionName?.endsWith(`-${name}`),
    )?.Properties;
  return readdirSync(dir)
    .filter((file) => file.endsWith('.zip'))
    .map((zip) => {
      const name = zip.replace(/\.zip$/, '');
      const unpacked = join(dir, name);
      const files = extractZip(join(dir, zip), unpacked);
      if (files.some((file) => file.includes('node_modules'))) throw new Error(`${name} ships node_modules`);
      const entry = files.find((file) => file.endsWith('.mjs') && !file.includes('.chunks/'));
      if (entry === undefined) throw new Error(`${name} has no .mjs bundle`);
      // esbuild names a dynamically imported module's chunk after the module: a handler's later phase is
      // src/handlers/<handler>-<what>-phase.ts (the SDK's own dynamic imports have chunks of their own).
      const chunks = `/${basename(entry, '.mjs')}.chunks/`;
      const deferred = files.find((file) => file.includes(chunks) && /-phase-\w+\.mjs$/.test(file));
      const properties = functionNamed(name);
      return {
        name,
        zip: join(dir, zip),
        entry,
        deferred,
        files,
        memoryMB: properties?.MemorySize,
        environment: properties?.Environment?.Variables ?? {},
      };
    });
}

export async function benchColdStart(runs: number, log: (line: string) => void): Promise<ColdStart[]> {
  const functions = await packageFunctions();
  const empty = measureNode(printPeakMemory, runs);
  const results: ColdStart[] = [
    {
      name: 'empty Node process',
      wallSeconds: empty.wall,
      peakMemoryMB: empty.memory,
      timeRatio: 1,
      memoryRatio: 1,
    },
  ];
  for (const { name, zip, entry, deferred, files, memoryMB, environment } of functions) {
    const env = packagedFunctionEnv(environment);
    const importOf = (file: string) => `await import(${JSON.stringify(pathToFileURL(file).href)});`;
    const measured = measureNode(`${importOf(entry)} ${printPeakMemory}`, runs, env);
    const ready =
      deferred === undefined
        ? measured
        : measureNode(`${importOf(entry)} ${importOf(deferred)} ${printPeakMemory}`, runs, env);
    const result: ColdStart = {
      name,
      zipBytes: statSync(zip).size,
      bundleBytes: statSync(entry).size,
      memoryMB,
      chunksBytes: files
        .filter((file) => file.endsWith('.mjs'))
        .reduce((sum, file) => sum + statSync(file).size, 0),
      wallSeconds: measured.wall,
      peakMemoryMB: measured.memory,
      timeRatio: measured.wall.median / empty.wall.median,
      memoryRatio: measured.memory.median / empty.memory.median,
      ready: {
        wallSeconds: ready.wall,
        peakMemoryMB: ready.memory,
        timeRatio: ready.wall.median / empty.wall.median,
        memoryRatio: ready.memory.median / empty.memory.median,
      },
    };
    results.push(result);
    log(
      `  ${name}: ready ${ready.wall.median.toFixed(3)} s (${(ready.wall.median / empty.wall.median).toFixed(2)}×), ${ready.memory.median.toFixed(0)} MB; load ${result.wallSeconds.median.toFixed(3)} s (${result.timeRatio.toFixed(2)}×), zip ${((result.zipBytes ?? 0) / 1024).toFixed(0)} KB`,
    );
  }
  return results;
}
