/**
 * S3 server access logs, streamed: one entry per line in constant memory, whatever the file's size. Fields are
 * space-delimited; `[...]` and `"..."` values may hold spaces; `-` is empty. AWS has added fields at the end over
 * the years: the first 17 are required, the later documented ones are read when present, and anything after them
 * (fields not yet documented) is ignored. A line that cannot be read is reported with its number and never stops
 * the lines around it.
 */

import { StringDecoder } from 'node:string_decoder';

export interface ServerAccessLogEntry {
  readonly bucketOwner: string;
  readonly bucket: string;
  /** ISO time the request was received. */
  readonly time: string;
  readonly remoteIp: string;
  /** Canonical user id or ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`); empty when anonymous. */
  readonly requester: string;
  readonly requestId: string;
  readonly operation: string;
  /** URL-decoded; empty when the operation takes no key. */
  readonly key: string;
  readonly requestUri: string;
  readonly httpStatus?: number;
  readonly errorCode: string;
  readonly bytesSent: number;
  readonly objectSize?: number;
  readonly totalTimeMs?: number;
  readonly turnAroundTimeMs?: number;
  readonly referer: string;
  readonly userAgent: string;
  readonly versionId: string;
  readonly hostId: string;
  readonly signatureVersion: string;
  readonly cipherSuite: string;
  readonly authenticationType: string;
  readonly hostHeader: string;
  readonly tlsVersion: string;
  readonly accessPointArn: string;
  readonly aclRequired?: boolean;
  readonly sourceRegion: string;
}

export type ParsedLogLine =
  | { readonly line: number; readonly entry: ServerAccessLogEntry }
  | { readonly line: number; readonly error: string; readonly text: string };

const REQUIRED_FIELDS = 17;
const MONTHS: Readonly<Record<string, string>> = {
  Jan: '01',
  Feb: '02',
  Mar: '03',
  Apr: '04',
  May: '05',
  Jun: '06',
  Jul: '07',
  Aug: '08',
  Sep: '09',
  Oct: '10',
  Nov: '11',
  Dec: '12',
};

/** Splits a line into its fields; undefined when a bracket or quote is never closed (a truncated line). */
function fields(line: string): string[] | undefined {
  const out: string[] = [];
  const length = line.length;
  let at = 0;
  while (at < length) {
    const char = line.charCodeAt(at);
    if (char === 32) {
      at += 1;
      continue;
    }
    if (char === 91 || char === 34) {
      const end = line.indexOf(char === 91 ? ']' : '"', at + 1);
      if (end < 0) return undefined;
      out.push(line.slice(at + 1, end));
      at = end + 1;
    } else {
      const end = line.indexOf(' ', at);
      const stop = end < 0 ? length : end;
      out.push(line.slice(at, stop));
      at = stop;
    }
  }
  return out;
}

const text = (value: string | undefined) => (value === undefined || value === '-' ? '' : value);

function count(value: string | undefined): number | undefined {
  if (value === undefined || value === '-') return undefined;
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 0 ? parsed : Number.NaN;
}

const digits = (value: string, from: number, length: number): number => {
  let result = 0;
  for (let at = from; at < from + length; at += 1) {
    const digit = value.charCodeAt(at) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    result = result * 10 + digit;
  }
  return result;
};

/** `dd/Mon/yyyy:HH:MM:SS +zzzz` read at fixed offsets (the format never varies; a regex and Date.parse cost more). */
function isoTime(value: string | undefined): string | undefined {
  if (
    value === undefined ||
    value.length !== 26 ||
    value[2] !== '/' ||
    value[6] !== '/' ||
    value[20] !== ' '
  ) {
    return undefined;
  }
  const month = MONTHS[value.slice(3, 6)];
  const sign = value[21] === '-' ? -1 : value[21] === '+' ? 1 : 0;
  const offset = sign * (digits(value, 22, 2) * 60 + digits(value, 24, 2));
  const at =
    Date.UTC(
      digits(value, 7, 4),
      Number(month) - 1,
      digits(value, 0, 2),
      digits(value, 12, 2),
      digits(value, 15, 2),
      digits(value, 18, 2),
    ) -
    offset * 60_000;
  return month === undefined || sign === 0 || Number.isNaN(at) ? undefined : new Date(at).toISOString();
}

/** Lines of one log share their second: the last time read and its ISO form. */
let lastTime: { raw: string; iso: string | undefined } = { raw: '', iso: undefined };

function cachedIsoTime(value: string | undefined): string | undefined {
  if (value !== lastTime.raw) lastTime = { raw: value ?? '', iso: isoTime(value) };
  return lastTime.iso;
}

function decodedKey(value: string | undefined): string {
  const raw = text(value);
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** One log line as an entry, or the reason it cannot be read. */
export function parseServerAccessLogLine(line: string): ServerAccessLogEntry | { error: string } {
  const values = fields(line);
  if (values === undefined) return { error: 'unclosed quote or bracket (truncated line?)' };
  if (values.length < REQUIRED_FIELDS)
    return { error: `${values.length} fields, at least ${REQUIRED_FIELDS} expected` };
  const time = cachedIsoTime(values[2]);
  if (time === undefined) return { error: `time "${values[2]}" is not dd/Mon/yyyy:HH:MM:SS +zzzz` };
  const httpStatus = count(values[9]);
  if (Number.isNaN(httpStatus) || (httpStatus !== undefined && (httpStatus < 100 || httpStatus > 599))) {
    return { error: `HTTP status "${values[9]}" is not a status code` };
  }
  const numbers = [count(values[11]), count(values[12]), count(values[13]), count(values[14])];
  if (numbers.some((value) => Number.isNaN(value)))
    return { error: 'a byte count or time is not a whole number' };
  const acl = values[25];
  return {
    bucketOwner: text(values[0]),
    bucket: text(values[1]),
    time,
    remoteIp: text(values[3]),
    requester: text(values[4]),
    requestId: text(values[5]),
    operation: text(values[6]),
    key: decodedKey(values[7]),
    requestUri: text(values[8]),
    httpStatus,
    errorCode: text(values[10]),
    bytesSent: numbers[0] ?? 0,
    objectSize: numbers[1],
    totalTimeMs: numbers[2],
    turnAroundTimeMs: numbers[3],
    referer: text(values[15]),
    userAgent: text(values[16]),
    versionId: text(values[17]),
    hostId: text(values[18]),
    signatureVersion: text(values[19]),
    cipherSuite: text(values[20]),
    authenticationType: text(values[21]),
    hostHeader: text(values[22]),
    tlsVersion: text(values[23]),
    accessPointArn: text(values[24]),
    aclRequired: acl === undefined || acl === '-' ? undefined : acl === 'Yes',
    sourceRegion: text(values[26]),
  };
}

/** At most this much of a bad line is kept in its error report. */
const ERROR_TEXT = 200;

/**
 * Streams a log: chunks in (any size, split anywhere, even inside a UTF-8 character), one result per non-empty
 * line out, numbered from 1. Only the unfinished last line is held between chunks.
 */
export async function* parseServerAccessLog(
  chunks: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<ParsedLogLine> {
  // StringDecoder, not TextDecoder: its strings of ASCII text are one byte per character, which every later
  // slice, search and decode of the line is faster on.
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  const parse = (textLine: string): ParsedLogLine | undefined => {
    line += 1;
    const trimmed = textLine.endsWith('\r') ? textLine.slice(0, -1) : textLine;
    if (trimmed.trim() === '') return undefined;
    const parsed = parseServerAccessLogLine(trimmed);
    return 'error' in parsed
      ? { line, error: parsed.error, text: trimmed.slice(0, ERROR_TEXT) }
      : { line, entry: parsed };
  };
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n', start)) {
      const result = parse(pending.slice(start, end));
      if (result !== undefined) yield result;
      start = end + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending !== '') {
    const result = parse(pending);
    if (result !== undefined) yield result;
  }
}
