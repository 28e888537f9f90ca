/**
 * S3 server access logs, streamed: one entry per line in constant memory, whatever the file's size. Fields are
 * space-delimited; `[...]` and `"..."` values may hold spaces; `-` is empty. AWS has added fields at the end over
 * the years: the first 17 are required, the later documented ones are read when present, and anything after them
 * (fields not yet documented) is ignored. A line that cannot be read (an impossible time, a line longer than
 * MAX_LINE, ...) is reported with its number and never stops the lines around it. S3 writes a `"` inside a quoted
 * value as it is: where such a value ends is found by what follows it (closingQuote). Keys are decoded as the line's
 * operation encodes them (decodedKey; docs/access-key-encoding.md).
 *
 * Built for throughput (bench/results.md): a chunk is decoded once (copied as Latin-1 when it is ASCII, as logs
 * nearly always are) and searched with `indexOf`; a line's 17
 * required fields are found and checked when it is parsed, but only those an access record needs become strings
 * then (the others when one of them is first asked for); keys are URL-decoded without decodeURIComponent in the
 * usual case; results come out in batches, not one await per line.
 */

import { isAscii } from 'node:buffer';
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
  /** URL-decoded as the operation encodes it (once or twice, docs/access-key-encoding.md); empty without a key. */
  readonly key: string;
  /** The Key field as the line writes it (still encoded); empty when the operation takes no key. */
  readonly rawKey: string;
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

/** Each field's position in a line, in the order AWS documents them. */
const FIELD = {
  bucketOwner: 0,
  bucket: 1,
  time: 2,
  remoteIp: 3,
  requester: 4,
  requestId: 5,
  operation: 6,
  key: 7,
  requestUri: 8,
  httpStatus: 9,
  errorCode: 10,
  bytesSent: 11,
  objectSize: 12,
  totalTime: 13,
  turnAroundTime: 14,
  referer: 15,
  userAgent: 16,
  versionId: 17,
  hostId: 18,
  signatureVersion: 19,
  cipherSuite: 20,
  authenticationType: 21,
  hostHeader: 22,
  tlsVersion: 23,
  accessPointArn: 24,
  aclRequired: 25,
  sourceRegion: 26,
} as const;
/** Every line has the fields up to the user agent. */
const REQUIRED_FIELDS = FIELD.userAgent + 1;
/** The required ones and the later ones AWS added, to source region. */
const DOCUMENTED_FIELDS = FIELD.sourceRegion + 1;
/** The numeric fields among the required ones: status, bytes sent, object size, total and turn-around time. */
const isCountField = (field: number) =>
  field >= FIELD.httpStatus && field <= FIELD.turnAroundTime && field !== FIELD.errorCode;
/** Fields read only when first asked for (see LogLineEntry). */
const isReadLater = (field: number) =>
  field === FIELD.bucketOwner || field === FIELD.requestUri || field >= FIELD.referer;

/** Character codes the parser compares against. */
const TAB = 0x09;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const DASH = 0x2d;
const DIGIT_0 = 0x30;
const BRACKET = 0x5b;
const UPPER_A = 0x41;
const UPPER_F = 0x46;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
/** A count longer than this many digits is not one (beyond Number's exact integers). */
const MAX_COUNT_DIGITS = 15;
const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** Where the field found by the last `nextField` call starts and ends in its line (no allocation per field). */
let fieldStart = 0;
let fieldEnd = 0;
const LINE_END = -1;
const UNCLOSED = -2;

/**
 * Where the quoted field that opens at `open` ends: the index of its closing quote, or a negative number (UNCLOSED). S3 writes a `"`
 * inside a value as it is, so a quote closes the field only when what follows has the shape of the next field
 * (docs/access-records.md, "Quotes inside a field"):
 * - the request URI ends at the first `"` followed by a space, three digits (the HTTP status) and a space; when
 *   none is (a status of `-`, a malformed line), at its first `"`;
 * - the referer ends at the first `"` followed by ` "`, the user agent's opening quote; when none is, at the last
 *   `"` of the line (the user agent is then `-`);
 * - the user agent ends at the last `"` of the line: no documented field after it can hold one.
 * Any other quoted field (one AWS may add later) ends at its first `"`.
 */
function closingQuote(line: string, open: number, field: number): number {
  if (field === FIELD.userAgent) return lastQuoteAfter(line, open);
  let close = line.indexOf('"', open + 1);
  if (field === FIELD.requestUri) {
    let candidate = close;
    while (candidate >= 0 && !statusFollows(line, candidate)) candidate = line.indexOf('"', candidate + 1);
    if (candidate >= 0) close = candidate;
  } else if (field === FIELD.referer) {
    while (close >= 0 && !line.startsWith(' "', close + 1)) close = line.indexOf('"', close + 1);
    if (close < 0) return lastQuoteAfter(line, open);
  }
  return close;
}

/** The last quote of the line, if it comes after `open`. */
function lastQuoteAfter(line: string, open: number): number {
  const last = line.lastIndexOf('"');
  return last > open ? last : UNCLOSED;
}

/** Whether an HTTP status follows the quote at `close`: a space, three digits and a space. */
function statusFollows(line: string, close: number): boolean {
  return (
    line.charCodeAt(close + 1) === SPACE &&
    isDigit(line.charCodeAt(close + 2)) &&
    isDigit(line.charCodeAt(close + 3)) &&
    isDigit(line.charCodeAt(close + 4)) &&
    line.charCodeAt(close + 5) === SPACE
  );
}

const isDigit = (code: number) => code >= DIGIT_0 && code <= DIGIT_0 + 9;

/**
 * Finds field number `field` at or after `at`: `[...]` and `"..."` without their delimiters, anything else up to the
 * next space. Returns where the search goes on, LINE_END when no field is left, UNCLOSED for a bracket or quote that
 * the line never closes (a truncated line).
 */
function nextField(line: string, at: number, field: number): number {
  const length = line.length;
  while (at < length && line.charCodeAt(at) === SPACE) at += 1;
  if (at >= length) return LINE_END;
  const first = line.charCodeAt(at);
  if (first === BRACKET || first === QUOTE) {
    const close = first === BRACKET ? line.indexOf(']', at + 1) : closingQuote(line, at, field);
    if (close < 0) return UNCLOSED;
    fieldStart = at + 1;
    fieldEnd = close;
    return close + 1;
  }
  const space = line.indexOf(' ', at);
  fieldStart = at;
  fieldEnd = space < 0 ? length : space;
  return fieldEnd;
}

/** The field just found; `-` is empty. */
function fieldText(line: string): string {
  return fieldEnd - fieldStart === 1 && line.charCodeAt(fieldStart) === DASH
    ? ''
    : line.slice(fieldStart, fieldEnd);
}

const NOT_A_COUNT = -1;
const ABSENT = -2;

/** The field just found as a whole number; ABSENT for `-`, NOT_A_COUNT for anything but digits. */
function fieldCount(line: string): number {
  if (fieldEnd - fieldStart === 1 && line.charCodeAt(fieldStart) === DASH) return ABSENT;
  if (fieldEnd - fieldStart > MAX_COUNT_DIGITS) return NOT_A_COUNT;
  let value = 0;
  for (let at = fieldStart; at < fieldEnd; at += 1) {
    const digit = line.charCodeAt(at) - DIGIT_0;
    if (digit < 0 || digit > 9) return NOT_A_COUNT;
    value = value * 10 + digit;
  }
  return value;
}

const digits = (value: string, from: number, length: number): number => {
  let result = 0;
  for (let at = from; at < from + length; at += 1) {
    const digit = value.charCodeAt(at) - DIGIT_0;
    if (digit < 0 || digit > 9) return Number.NaN;
    result = result * 10 + digit;
  }
  return result;
};

/** Where each part of `dd/Mon/yyyy:HH:MM:SS +zzzz` starts: the format never varies. */
const TIME_AT = {
  day: 0,
  firstSlash: 2,
  month: 3,
  secondSlash: 6,
  year: 7,
  hour: 12,
  minute: 15,
  second: 18,
  space: 20,
  zoneSign: 21,
  zoneHours: 22,
  zoneMinutes: 24,
  length: 26,
} as const;

/**
 * `dd/Mon/yyyy:HH:MM:SS +zzzz` read at fixed offsets (a regex and Date.parse cost more), for a time that exists only.
 * Date.UTC carries what overflows into the unit above (31/Feb is 3 March, hour 25 the next day's 01) and reads a
 * year below 100 as 19xx: such a time does not read back as written. A unit that overflows changes itself or the
 * unit above it, so reading back the year, month, hour and second catches every one. An offset is at most ±23:59.
 */
function isoTime(value: string): string | undefined {
  const at = TIME_AT;
  if (
    value.length !== at.length ||
    value[at.firstSlash] !== '/' ||
    value[at.secondSlash] !== '/' ||
    value[at.space] !== ' '
  ) {
    return undefined;
  }
  const sign = value[at.zoneSign] === '-' ? -1 : value[at.zoneSign] === '+' ? 1 : 0;
  const zoneHours = digits(value, at.zoneHours, 2);
  const zoneMinutes = digits(value, at.zoneMinutes, 2);
  if (sign === 0 || !(zoneHours < 24 && zoneMinutes < 60)) return undefined;
  const year = digits(value, at.year, 4);
  const month = MONTHS[value.slice(at.month, at.month + 3)] ?? Number.NaN;
  const hour = digits(value, at.hour, 2);
  const second = digits(value, at.second, 2);
  const time = new Date(
    Date.UTC(year, month, digits(value, at.day, 2), hour, digits(value, at.minute, 2), second),
  );
  if (
    time.getUTCFullYear() !== year ||
    time.getUTCMonth() !== month ||
    time.getUTCHours() !== hour ||
    time.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  return new Date(time.getTime() - sign * (zoneHours * 60 + zoneMinutes) * 60_000).toISOString();
}

/** Lines of one log share their second: the last time read and its ISO form. */
let lastTime: { raw: string; iso: string | undefined } = { raw: '', iso: undefined };

/** The field just found as an ISO time; read again only when it is not the last line's second. */
function fieldIsoTime(line: string): string | undefined {
  const raw = line.slice(fieldStart, fieldEnd);
  if (raw !== lastTime.raw) lastTime = { raw, iso: isoTime(raw) };
  return lastTime.iso;
}

const hexDigit = (code: number): number =>
  isDigit(code)
    ? code - DIGIT_0
    : code >= UPPER_A && code <= UPPER_F
      ? code - UPPER_A + 10
      : code >= LOWER_A && code <= LOWER_F
        ? code - LOWER_A + 10
        : -1;

function decodedOrUndefined(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * One level of URL encoding undone, or undefined when it is not valid URL encoding; `+` is left as it is. Escapes of
 * ASCII characters (`%20`, `%2B`: the usual ones) are decoded here, about 5x faster than decodeURIComponent; a text
 * with any other escape (a multi-byte UTF-8 character, a malformed one) goes to decodeURIComponent whole.
 */
function percentDecoded(raw: string): string | undefined {
  let percent = raw.indexOf('%');
  if (percent < 0) return raw;
  let decoded = '';
  let from = 0;
  while (percent >= 0) {
    const high = hexDigit(raw.charCodeAt(percent + 1));
    const low = hexDigit(raw.charCodeAt(percent + 2));
    // An escape above %7F is part of a multi-byte UTF-8 character: left to decodeURIComponent.
    if (high < 0 || high > 7 || low < 0) return decodedOrUndefined(raw);
    decoded += raw.slice(from, percent) + String.fromCharCode(high * 16 + low);
    from = percent + 3;
    percent = raw.indexOf('%', from);
  }
  return decoded + raw.slice(from);
}

/**
 * Operations whose Key field S3 encodes once, the way forms are (a space is `+`): multi-object deletes and S3's own
 * operations (`S3.EXPIRE.OBJECT`, ...). Every other operation's key is encoded twice: the request path's encoding,
 * where `+` is a plus, encoded again. Evidence: docs/access-key-encoding.md.
 */
const isKeyEncodedOnce = (operation: string) =>
  operation === 'BATCH.DELETE.OBJECT' || operation.startsWith('S3.');

/**
 * The key the Key field names, decoded as its operation encodes it; the field as it is when it is not valid URL
 * encoding at every level (the record keeps the field beside it, as rawKey, either way).
 */
function decodedKey(raw: string, operation: string): string {
  if (isKeyEncodedOnce(operation)) return percentDecoded(raw.replaceAll('+', ' ')) ?? raw;
  const once = percentDecoded(raw);
  return (once === undefined ? undefined : percentDecoded(once)) ?? raw;
}

/** Every documented field's text (`-` and missing ones empty), read again from the line when first asked for. */
function allFields(line: string): string[] {
  const values: string[] = [];
  let at = 0;
  while (values.length < DOCUMENTED_FIELDS) {
    at = nextField(line, at, values.length);
    if (at < 0) break;
    values.push(fieldText(line));
  }
  while (values.length < DOCUMENTED_FIELDS) values.push('');
  return values;
}

/**
 * An entry whose fields an access record needs are read when the line is parsed; the others (the bucket owner,
 * request URI, referer, user agent and every later field) when one of them is first asked for.
 */
class LogLineEntry implements ServerAccessLogEntry {
  readonly #line: string;
  #fields: string[] | undefined;

  constructor(
    line: string,
    readonly bucket: string,
    readonly time: string,
    readonly remoteIp: string,
    readonly requester: string,
    readonly requestId: string,
    readonly operation: string,
    readonly key: string,
    readonly rawKey: string,
    readonly httpStatus: number | undefined,
    readonly errorCode: string,
    readonly bytesSent: number,
    readonly objectSize: number | undefined,
    readonly totalTimeMs: number | undefined,
    readonly turnAroundTimeMs: number | undefined,
  ) {
    this.#line = line;
  }

  private field(index: number): string {
    this.#fields ??= allFields(this.#line);
    return this.#fields[index] ?? '';
  }

  get bucketOwner() {
    return this.field(FIELD.bucketOwner);
  }
  get requestUri() {
    return this.field(FIELD.requestUri);
  }
  get referer() {
    return this.field(FIELD.referer);
  }
  get userAgent() {
    return this.field(FIELD.userAgent);
  }
  get versionId() {
    return this.field(FIELD.versionId);
  }
  get hostId() {
    return this.field(FIELD.hostId);
  }
  get signatureVersion() {
    return this.field(FIELD.signatureVersion);
  }
  get cipherSuite() {
    return this.field(FIELD.cipherSuite);
  }
  get authenticationType() {
    return this.field(FIELD.authenticationType);
  }
  get hostHeader() {
    return this.field(FIELD.hostHeader);
  }
  get tlsVersion() {
    return this.field(FIELD.tlsVersion);
  }
  get accessPointArn() {
    return this.field(FIELD.accessPointArn);
  }
  get aclRequired() {
    const value = this.field(FIELD.aclRequired);
    return value === '' ? undefined : value === 'Yes';
  }
  get sourceRegion() {
    return this.field(FIELD.sourceRegion);
  }

  /** Every field, as a plain object: what JSON.stringify (a log line, a test's failure) shows. */
  toJSON(): ServerAccessLogEntry {
    return {
      ...this,
      bucketOwner: this.bucketOwner,
      requestUri: this.requestUri,
      referer: this.referer,
      userAgent: this.userAgent,
      versionId: this.versionId,
      hostId: this.hostId,
      signatureVersion: this.signatureVersion,
      cipherSuite: this.cipherSuite,
      authenticationType: this.authenticationType,
      hostHeader: this.hostHeader,
      tlsVersion: this.tlsVersion,
      accessPointArn: this.accessPointArn,
      aclRequired: this.aclRequired,
      sourceRegion: this.sourceRegion,
    };
  }
}

/** A required field's text, read when the line was (every one a record needs is). */
const textOf = (field: number): string => texts[field] ?? '';

function optional(field: number): number | undefined {
  const value = counts[field] ?? ABSENT;
  return value === ABSENT ? undefined : value;
}

/** Scratch for one line's required fields: the text of those a record needs, the numbers of the numeric ones. */
const texts: string[] = new Array(REQUIRED_FIELDS).fill('');
const counts: number[] = new Array(REQUIRED_FIELDS).fill(0);
const COUNT_FIELDS = [
  FIELD.httpStatus,
  FIELD.bytesSent,
  FIELD.objectSize,
  FIELD.totalTime,
  FIELD.turnAroundTime,
];

/** One log line as an entry, or the reason it cannot be read. */
export function parseServerAccessLogLine(line: string): ServerAccessLogEntry | { error: string } {
  const read = readLine(line);
  return typeof read === 'string' ? { error: read } : read;
}

/** One log line as an entry, or the reason it cannot be read (a string: the cheapest thing to tell apart). */
function readLine(line: string): LogLineEntry | string {
  let at = 0;
  let time: string | undefined;
  for (let field = 0; field < REQUIRED_FIELDS; field += 1) {
    at = nextField(line, at, field);
    if (at === UNCLOSED) return 'unclosed quote or bracket (truncated line?)';
    if (at === LINE_END) return `${field} fields, at least ${REQUIRED_FIELDS} expected`;
    if (field === FIELD.time) time = fieldIsoTime(line);
    else if (isCountField(field)) counts[field] = fieldCount(line);
    else if (!isReadLater(field)) texts[field] = fieldText(line);
  }
  if (time === undefined) {
    return `time "${fieldOf(line, FIELD.time)}" is not dd/Mon/yyyy:HH:MM:SS +zzzz`;
  }
  const status = counts[FIELD.httpStatus] ?? NOT_A_COUNT;
  if (status === NOT_A_COUNT || (status !== ABSENT && (status < 100 || status > 599))) {
    return `HTTP status "${fieldOf(line, FIELD.httpStatus)}" is not a status code`;
  }
  for (const field of COUNT_FIELDS) {
    if (counts[field] === NOT_A_COUNT) return 'a byte count or time is not a whole number';
  }
  const operation = textOf(FIELD.operation);
  const rawKey = textOf(FIELD.key);
  return new LogLineEntry(
    line,
    textOf(FIELD.bucket),
    time,
    textOf(FIELD.remoteIp),
    textOf(FIELD.requester),
    textOf(FIELD.requestId),
    operation,
    decodedKey(rawKey, operation),
    rawKey,
    optional(FIELD.httpStatus),
    textOf(FIELD.errorCode),
    optional(FIELD.bytesSent) ?? 0,
    optional(FIELD.objectSize),
    optional(FIELD.totalTime),
    optional(FIELD.turnAroundTime),
  );
}

/** A field's raw text, for an error report (the line is read again: errors are rare). */
function fieldOf(line: string, index: number): string {
  let at = 0;
  for (let field = 0; field <= index; field += 1) at = nextField(line, at, field);
  return line.slice(fieldStart, fieldEnd);
}

/**
 * At most this many results in one batch: enough to make the await per batch negligible, few enough that entries
 * the caller is done with die young (a whole chunk's worth at once would outlive the young generation).
 */
const BATCH = 512;

/** At most this much of a bad line is kept in its error report. */
const ERROR_TEXT = 200;

/**
 * A log's bytes as text, chunk by chunk (a character may be split between chunks). StringDecoder, not TextDecoder:
 * its strings of ASCII text are one byte per character, which every later slice, search and decode of a line is
 * faster on. Logs are nearly always pure ASCII (keys are URL-encoded): such a chunk is copied as Latin-1, the same
 * text about 3x faster. Once a chunk holds anything else, every later chunk goes through the StringDecoder, which
 * may hold the first bytes of a character split between chunks.
 */
export class LogTextDecoder {
  readonly #decoder = new StringDecoder('utf8');
  #utf8 = false;

  write(chunk: Uint8Array): string {
    if (!this.#utf8 && isAscii(chunk)) {
      return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    }
    this.#utf8 = true;
    return this.#decoder.write(chunk);
  }

  end(): string {
    return this.#decoder.end();
  }
}

/**
 * The longest line read (64 KiB of text): a line of the documented fields is well under 10 KB even with long keys,
 * referers and user agents (each header is limited by S3's 8 KB request header limit). A longer line is reported as
 * malformed, and skipped while it streams: at most this much of it is ever held.
 */
export const MAX_LINE = 64 * 1024;

/** A line too long to read, reported with its first characters. */
const overlong = (line: number, head: string): ParsedLogLine => ({
  line,
  error: `line longer than ${MAX_LINE} characters`,
  text: head.slice(0, ERROR_TEXT),
});

/**
 * Streams a log: chunks in (any size, split anywhere, even inside a UTF-8 character), the results of each chunk's
 * complete lines out in batches of up to BATCH (non-empty lines only, numbered from 1). Only the unfinished last line
 * is held between chunks, and only up to MAX_LINE: past it, the line's first characters are kept for its report and
 * the rest is skipped up to its end.
 */
export async function* parseServerAccessLog(
  chunks: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<ParsedLogLine[]> {
  const decoder = new LogTextDecoder();
  let pending = '';
  /** The first characters of an unfinished line longer than MAX_LINE, whose rest is being skipped. */
  let skipping: string | undefined;
  let line = 0;
  for await (const chunk of chunks) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    // Lines are cut from the chunk's own text: only the line split between chunks is joined, so a chunk is never
    // copied into one string with the previous chunk's tail.
    let batch: ParsedLogLine[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      line += 1;
      if (skipping !== undefined) batch.push(overlong(line, skipping));
      else if (pending.length + end - start > MAX_LINE)
        batch.push(overlong(line, pending + text.slice(start, start + ERROR_TEXT)));
      else addResult(batch, line, pending + text.slice(start, end));
      skipping = undefined;
      pending = '';
      start = end + 1;
      if (batch.length === BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (skipping === undefined) {
      if (pending.length + text.length - start > MAX_LINE) {
        skipping = (pending + text.slice(start, start + ERROR_TEXT)).slice(0, ERROR_TEXT);
        pending = '';
      } else {
        pending += text.slice(start);
      }
    }
    if (batch.length > 0) yield batch;
  }
  pending += decoder.end();
  const last: ParsedLogLine[] = [];
  if (skipping !== undefined) last.push(overlong(line + 1, skipping));
  else if (pending !== '') addResult(last, line + 1, pending);
  if (last.length > 0) yield last;
}

/** Parses line number `line` into the batch; nothing for an empty or blank line. A CRLF's CR is dropped. */
function addResult(batch: ParsedLogLine[], line: number, text: string): void {
  const trimmed = text.charCodeAt(text.length - 1) === CARRIAGE_RETURN ? text.slice(0, -1) : text;
  // A line starts with the bucket owner: only one that starts with white space can be blank.
  const first = trimmed.charCodeAt(0);
  if (Number.isNaN(first) || ((first === SPACE || first === TAB) && trimmed.trim() === '')) return;
  const read = readLine(trimmed);
  batch.push(
    typeof read === 'string'
      ? { line, error: read, text: trimmed.slice(0, ERROR_TEXT) }
      : { line, entry: read },
  );
}
