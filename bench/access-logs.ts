/**
 * Access logs: parser throughput on one core over a generated 100 MB server access log with a realistic mix of
 * fields (operations, encoded keys, quoted user agents, errors), in memory and streamed from a file in 1 MB chunks,
 * and the peak RSS growth while streaming 10 MB and 100 MB.
 */
import { createReadStream, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { logTime } from '../local/access-log';
import { parseServerAccessLog } from '../src/access/server-access-log';

export interface AccessLogBench {
  readonly megabytes: number;
  readonly lines: number;
  readonly inMemoryMBps: number;
  readonly streamingMBps: number;
  /** The common way, for comparison: `readline` over the same file, splitting lines only (no fields, no records). */
  readonly readlineLinesOnlyMBps: number;
  readonly streamingPeakGrowthMB: { readonly tenMB: number; readonly hundredMB: number };
}

const OPERATIONS = [
  'REST.GET.OBJECT',
  'REST.PUT.OBJECT',
  'REST.HEAD.OBJECT',
  'REST.DELETE.OBJECT',
  'REST.GET.BUCKET',
];
const AGENTS = [
  '"curl/8.5.0 worker-fleet-agent"',
  '"aws-sdk-js/3.1164.0 ua/2.1 os/linux lang/js md/nodejs#24"',
  '"-"',
];

/** A busy bucket: a log file covers a few minutes, its lines in time order, many to a second. */
const FIRST_REQUEST = Date.UTC(2026, 10, 25, 9, 0, 0);
const REQUESTS_PER_SECOND = 50;

function generateLog(file: string, bytes: number): number {
  const lines: string[] = [];
  let size = 0;
  for (let n = 0; size < bytes; n += 1) {
    const failed = n % 50 === 0;
    const key = `results/batch%20${n % 97}/part-${n}.json`;
    const entry = [
      '5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee0 worker-fleet-dev-fleet',
      logTime(new Date(FIRST_REQUEST + Math.floor(n / REQUESTS_PER_SECOND) * 1000)),
      `10.0.${n % 4}.${n % 250}`,
      `arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0a1b2c3d4e5f6${String(n % 9999).padStart(4, '0')}`,
      `REQ${n.toString(16).toUpperCase().padStart(13, '0')}`,
      OPERATIONS[n % OPERATIONS.length],
      key,
      `"GET /${key} HTTP/1.1"`,
      failed ? '403 AccessDenied 243' : `200 - ${(n * 131) % 65536}`,
      `${(n * 131) % 65536} ${n % 90} ${n % 30} "-"`,
      AGENTS[n % AGENTS.length],
      '- hOsTiDqQ1234abcdEFGH= SigV4 TLS_AES_128_GCM_SHA256 AuthHeader worker-fleet-dev-fleet.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1',
    ].join(' ');
    lines.push(entry);
    size += Buffer.byteLength(entry) + 1;
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return lines.length;
}

async function drain(chunks: AsyncIterable<string | Uint8Array>, onLine?: () => void): Promise<number> {
  let count = 0;
  for await (const parsed of parseServerAccessLog(chunks)) {
    if ('error' in parsed) throw new Error(`generated line ${parsed.line} did not parse: ${parsed.error}`);
    count += 1;
    if (count % 20_000 === 0) onLine?.();
  }
  return count;
}

async function* one(bytes: Uint8Array) {
  yield bytes;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Peak RSS growth while streaming a file, sampled as lines are parsed. */
async function streamingPeak(file: string): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  await drain(createReadStream(file, { highWaterMark: 1 << 20 }), () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  });
  return (peak - baseline) / 2 ** 20;
}

export async function benchAccessLogs(log: (line: string) => void): Promise<AccessLogBench> {
  const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-bench-logs-'));
  const big = join(dir, 'access-100mb.log');
  const small = join(dir, 'access-10mb.log');
  const lines = generateLog(big, 100 * 2 ** 20);
  generateLog(small, 10 * 2 ** 20);
  const megabytes = statSync(big).size / 2 ** 20;
  log(`  generated ${megabytes.toFixed(0)} MB, ${lines} lines`);

  // Memory first, before the large in-memory runs raise the process's footprint.
  const tenMB = await streamingPeak(small);
  const hundredMB = await streamingPeak(big);

  const streaming: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    const started = performance.now();
    await drain(createReadStream(big, { highWaterMark: 1 << 20 }));
    streaming.push(megabytes / ((performance.now() - started) / 1000));
  }
  const readline: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    const started = performance.now();
    let count = 0;
    for await (const _line of createInterface({ input: createReadStream(big, { highWaterMark: 1 << 20 }) })) {
      count += 1;
    }
    if (count !== lines) throw new Error(`readline read ${count} lines, not ${lines}`);
    readline.push(megabytes / ((performance.now() - started) / 1000));
  }
  const bytes = readFileSync(big);
  const inMemory: number[] = [];
  for (let run = 0; run < 3; run += 1) {
    const started = performance.now();
    await drain(one(bytes));
    inMemory.push(megabytes / ((performance.now() - started) / 1000));
  }
  const result = {
    megabytes,
    lines,
    inMemoryMBps: median(inMemory),
    streamingMBps: median(streaming),
    readlineLinesOnlyMBps: median(readline),
    streamingPeakGrowthMB: { tenMB, hundredMB },
  };
  log(
    `  in memory ${result.inMemoryMBps.toFixed(0)} MB/s, streaming ${result.streamingMBps.toFixed(0)} MB/s (readline, lines only: ${result.readlineLinesOnlyMBps.toFixed(0)} MB/s), peak growth ${tenMB.toFixed(0)} MB (10 MB) / ${hundredMB.toFixed(0)} MB (100 MB)`,
  );
  return result;
}
