/**
 * Access logs: parser throughput on one core over a generated 100 MB server access log with a realistic mix of
 * fields (operations, encoded keys, quoted user agents, errors), in memory and streamed from a file in 1 MB chunks,
 * beside the floor of the design and `readline`, each way in a process of its own (bench/access-log-pass.ts); and
 * the peak RSS of a process streaming 10 MB and 100 MB.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logTime } from '../local/access-log';
import { WAYS, type Way } from './access-log-pass';

export interface AccessLogBench {
  readonly megabytes: number;
  readonly lines: number;
  readonly inMemoryMBps: number;
  readonly streamingMBps: number;
  /** Streamed, and each entry made into the access record logS3Access logs: the whole per-line work. */
  readonly streamingRecordsMBps: number;
  /** The floor of this design: the file streamed, decoded and split into lines as the parser does, no fields. */
  readonly linesOnlyMBps: number;
  /** The common way, for comparison: `readline` over the same file, splitting lines only (no fields, no records). */
  readonly readlineLinesOnlyMBps: number;
  /** Peak RSS of a Node process, its old generation capped at OLD_SPACE_CAP_MB, streaming each log once. */
  readonly streamingPeakRssMB: { readonly tenMB: number; readonly hundredMB: number };
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const PASS = join(__dirname, 'access-log-pass.ts');
export const OLD_SPACE_CAP_MB = 16;

/** Runs one way over a file in a new Node process: its lines, the timed pass's seconds and the peak RSS. */
function inOwnProcess(way: Way, file: string, passes: number, nodeOptions: string[] = []) {
  const child = spawnSync(
    process.execPath,
    [...nodeOptions, '--import', 'tsx', PASS, way, file, String(passes)],
    {
      encoding: 'utf8',
    },
  );
  if (child.status !== 0) throw new Error(`${way} over ${file} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout) as { lines: number; seconds: number; maxRssMB: number };
}

export async function benchAccessLogs(log: (line: string) => void): Promise<AccessLogBench> {
  const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-bench-logs-'));
  const big = join(dir, 'access-100mb.log');
  const small = join(dir, 'access-10mb.log');
  const lines = generateLog(big, 100 * 2 ** 20);
  generateLog(small, 10 * 2 ** 20);
  const megabytes = statSync(big).size / 2 ** 20;
  log(`  generated ${megabytes.toFixed(0)} MB, ${lines} lines`);

  // Constant memory, proven: both files streamed once by a process whose old generation (where anything that
  // outlives a batch would pile up) is capped at OLD_SPACE_CAP_MB; it fails if the parser held on to more.
  const capped = [`--max-old-space-size=${OLD_SPACE_CAP_MB}`];
  const tenMB = inOwnProcess('streaming', small, 1, capped).maxRssMB;
  const hundredMB = inOwnProcess('streaming', big, 1, capped).maxRssMB;

  // Round-robin, five runs of each way, each in a new process (two passes, the second timed): this host's speed
  // drifts over minutes, and each way should see the same drift.
  const speeds = new Map<Way, number[]>(WAYS.map((way) => [way, []]));
  for (let run = 0; run < 5; run += 1) {
    for (const way of WAYS) {
      const pass = inOwnProcess(way, big, 2);
      if (pass.lines !== lines) throw new Error(`${way} read ${pass.lines} lines, not ${lines}`);
      speeds.get(way)?.push(megabytes / pass.seconds);
    }
  }
  const mbps = (way: Way) => median(speeds.get(way) ?? []);
  const result = {
    megabytes,
    lines,
    inMemoryMBps: mbps('inMemory'),
    streamingMBps: mbps('streaming'),
    streamingRecordsMBps: mbps('streamingRecords'),
    linesOnlyMBps: mbps('linesOnly'),
    readlineLinesOnlyMBps: mbps('readline'),
    streamingPeakRssMB: { tenMB, hundredMB },
  };
  log(
    `  in memory ${result.inMemoryMBps.toFixed(0)} MB/s, streaming ${result.streamingMBps.toFixed(0)} MB/s, with records ${result.streamingRecordsMBps.toFixed(0)} MB/s (lines only: ${result.linesOnlyMBps.toFixed(0)} MB/s, readline ${result.readlineLinesOnlyMBps.toFixed(0)} MB/s), peak RSS streaming ${tenMB.toFixed(0)} MB (10 MB) / ${hundredMB.toFixed(0)} MB (100 MB)`,
  );
  rmSync(dir, { recursive: true, force: true });
  return result;
}
