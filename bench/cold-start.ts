/**
 * Cold start: for each function's packaged bundle, the whole-process time and peak memory of starting Node and
 * loading the handler module, against an empty Node process in the same run; and of loading it with the chunk its
 * handler imports at the first event (its core and AWS clients), which is what a first invocation pays on top.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
  /** The handler module and its deferred chunk, both loaded: ready to handle the first event. */
  readonly ready?: {
    readonly wallSeconds: Spread;
    readonly peakMemoryMB: Spread;
    readonly timeRatio: number;
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
function measureNode(script: string, runs: number): { wall: Spread; memory: Spread } {
  const walls: number[] = [];
  const memories: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    walls.push((performance.now() - started) / 1000);
    if (child.status !== 0) throw new Error(`node exited with ${child.status}: ${child.stderr}`);
    memories.push(Number(child.stdout.trim()) / 1024);
  }
  return { wall: spread(walls), memory: spread(memories) };
}

const printPeakMemory = 'process.stdout.write(String(process.resourceUsage().maxRSS));';

/** A function as `serverless package` built it, unzipped: its handler module and the chunk it loads later. */
export interface PackagedFunction {
  readonly name: string;
  readonly zip: string;
  readonly entry: string;
  readonly deferred: string;
  readonly files: readonly string[];
  readonly memoryMB?: number;
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
    Resources: Record<string, { Type: string; Properties: { FunctionName?: string; MemorySize?: number } }>;
  };
  const memoryOf = (name: string) =>
    Object.values(template.Resources).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' && resource.Properties.FunctionName?.endsWith(`-${name}`),
    )?.Properties.MemorySize;
  return readdirSync(dir)
    .filter((file) => file.endsWith('.zip'))
    .map((zip) => {
      const name = zip.replace(/\.zip$/, '');
      const unpacked = join(dir, name);
      const files = extractZip(join(dir, zip), unpacked);
      if (files.some((file) => file.includes('node_modules'))) throw new Error(`${name} ships node_modules`);
      const entry = files.find((file) => file.endsWith('.mjs') && !file.includes('.chunks/'));
      if (entry === undefined) throw new Error(`${name} has no .mjs bundle`);
      // esbuild names a dynamically imported module's chunk after it: src/handlers/deferred/<handler>.ts.
      const base = basename(entry, '.mjs');
      const deferred = files.find((file) => file.includes(`/${base}.chunks/${base}-`));
      if (deferred === undefined)
        throw new Error(`${name} has no deferred chunk ${base}.chunks/${base}-*.mjs`);
      return { name, zip: join(dir, zip), entry, deferred, files, memoryMB: memoryOf(name) };
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
  for (const { name, zip, entry, deferred, files, memoryMB } of functions) {
    const importOf = (file: string) => `await import(${JSON.stringify(pathToFileURL(file).href)});`;
    const measured = measureNode(`${importOf(entry)} ${printPeakMemory}`, runs);
    const ready = measureNode(`${importOf(entry)} ${importOf(deferred)} ${printPeakMemory}`, runs);
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
      },
    };
    results.push(result);
    log(
      `  ${name}: ${result.wallSeconds.median.toFixed(3)} s (${result.timeRatio.toFixed(2)}×), ${result.peakMemoryMB.median.toFixed(0)} MB (${result.memoryRatio.toFixed(2)}×), zip ${((result.zipBytes ?? 0) / 1024).toFixed(0)} KB; ready ${ready.wall.median.toFixed(3)} s`,
    );
  }
  return results;
}
