/**
 * One way of reading the benchmark's access log, measured in a Node process of its own (bench/access-logs.ts starts
 * it), so that no way inherits another's heap or compiled code: `<way> <file> <passes>`. Every pass reads the whole
 * file; the last is timed (the ones before warm the code). Prints `{"lines":…,"seconds":…,"maxRssMB":…}`.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { accessFromLogEntry } from '../src/access/access-record';
import { LogTextDecoder, parseServerAccessLog } from '../src/access/server-access-log';

export const WAYS = ['inMemory', 'streaming', 'streamingRecords', 'linesOnly', 'readline'] as const;
export type Way = (typeof WAYS)[number];

async function countEntries(chunks: AsyncIterable<Uint8Array>, toRecords: boolean): Promise<number> {
  let count = 0;
  for await (const batch of parseServerAccessLog(chunks)) {
    for (const parsed of batch) {
      if ('error' in parsed) throw new Error(`generated line ${parsed.line} did not parse: ${parsed.error}`);
      if (toRecords) accessFromLogEntry(parsed.entry);
    }
    count += batch.length;
  }
  return count;
}

async function* one(bytes: Uint8Array) {
  yield bytes;
}

function passOf(way: Way, file: string): () => Promise<number> {
  const stream = () => createReadStream(file, { highWaterMark: 1 << 20 });
  switch (way) {
    case 'inMemory': {
      const bytes = readFileSync(file);
      return () => countEntries(one(bytes), false);
    }
    case 'streaming':
      return () => countEntries(stream(), false);
    case 'streamingRecords':
      return () => countEntries(stream(), true);
    case 'linesOnly':
      // The floor of this design: decoded and split into lines as the parser does, no fields read.
      return async () => {
        const decoder = new LogTextDecoder();
        let pending = '';
        let count = 0;
        for await (const chunk of stream()) {
          pending += decoder.write(chunk as Buffer);
          let start = 0;
          for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n', start)) {
            if (end > start) count += 1;
            start = end + 1;
          }
          pending = pending.slice(start);
        }
        return count;
      };
    case 'readline':
      return async () => {
        let count = 0;
        for await (const _line of createInterface({ input: stream() })) count += 1;
        return count;
      };
  }
}

async function main(): Promise<void> {
  const [way, file, passes] = process.argv.slice(2);
  if (!WAYS.includes(way as Way) || file === undefined) {
    throw new Error(`usage: access-log-pass <${WAYS.join('|')}> <file> [passes]`);
  }
  const pass = passOf(way as Way, file);
  let lines = 0;
  let seconds = 0;
  for (let left = Number(passes ?? 1); left > 0; left -= 1) {
    const started = performance.now();
    lines = await pass();
    seconds = (performance.now() - started) / 1000;
  }
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ lines, seconds, maxRssMB })}\n`);
}

if (require.main === module) void main();
