import { parseServerAccessLog, parseServerAccessLogLine } from '../../../src/access/server-access-log';

const OWNER = '5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee0';
const WORKER = 'arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0a1b2c3d4e5f60718';

/** A line in the current 27-field layout (or its first `count` fields), a field replaceable by index. */
function line(overrides: Record<number, string> = {}, count = 27): string {
  const values = [
    OWNER,
    'worker-fleet-dev-fleet',
    '[25/Nov/2026:09:10:11 +0000]',
    '10.0.1.17',
    WORKER,
    '7Q2B3C4D5E6F7A8B',
    'REST.PUT.OBJECT',
    'results/batch%201/out%2Bput.json',
    '"PUT /results/batch%201/out%2Bput.json HTTP/1.1"',
    '200',
    '-',
    '-',
    '5120',
    '38',
    '12',
    '"-"',
    '"curl/8.5.0 worker-fleet-agent"',
    '-',
    'hOsTiDqQ1234=',
    'SigV4',
    'TLS_AES_128_GCM_SHA256',
    'AuthHeader',
    'worker-fleet-dev-fleet.s3.us-east-1.amazonaws.com',
    'TLSv1.3',
    '-',
    '-',
    'us-east-1',
  ];
  for (const [index, value] of Object.entries(overrides)) values[Number(index)] = value;
  return values.slice(0, count).join(' ');
}

async function* chunksOf(...chunks: (string | Uint8Array)[]) {
  for (const chunk of chunks) yield chunk;
}

async function batchesOf(chunks: AsyncIterable<string | Uint8Array>) {
  const batches = [];
  for await (const batch of parseServerAccessLog(chunks)) batches.push(batch);
  return batches;
}

async function collect(chunks: AsyncIterable<string | Uint8Array>) {
  return (await batchesOf(chunks)).flat();
}

const errorOf = (text: string) => {
  const parsed = parseServerAccessLogLine(text);
  return 'error' in parsed ? parsed.error : undefined;
};

describe('parseServerAccessLogLine', () => {
  it('reads every documented field of the current layout', () => {
    const entry = parseServerAccessLogLine(line());

    // toJSON: every field, the later ones read on demand included.
    expect(JSON.parse(JSON.stringify(entry))).toEqual({
      bucketOwner: OWNER,
      bucket: 'worker-fleet-dev-fleet',
      time: '2026-11-25T09:10:11.000Z',
      remoteIp: '10.0.1.17',
      requester: WORKER,
      requestId: '7Q2B3C4D5E6F7A8B',
      operation: 'REST.PUT.OBJECT',
      key: 'results/batch 1/out+put.json',
      requestUri: 'PUT /results/batch%201/out%2Bput.json HTTP/1.1',
      httpStatus: 200,
      errorCode: '',
      bytesSent: 0,
      objectSize: 5120,
      totalTimeMs: 38,
      turnAroundTimeMs: 12,
      referer: '',
      userAgent: 'curl/8.5.0 worker-fleet-agent',
      versionId: '',
      hostId: 'hOsTiDqQ1234=',
      signatureVersion: 'SigV4',
      cipherSuite: 'TLS_AES_128_GCM_SHA256',
      authenticationType: 'AuthHeader',
      hostHeader: 'worker-fleet-dev-fleet.s3.us-east-1.amazonaws.com',
      tlsVersion: 'TLSv1.3',
      accessPointArn: '',
      aclRequired: undefined,
      sourceRegion: 'us-east-1',
    });
  });

  it('reads an error response, a time zone offset and aclRequired', () => {
    const entry = parseServerAccessLogLine(
      line({ 2: '[25/Nov/2026:10:10:11 +0100]', 9: '403', 10: 'AccessDenied', 11: '243', 25: 'Yes' }),
    );

    expect(entry).toMatchObject({
      time: '2026-11-25T09:10:11.000Z',
      httpStatus: 403,
      errorCode: 'AccessDenied',
      bytesSent: 243,
      aclRequired: true,
    });
  });

  it('reads an older line that stops after the user agent, leaving later fields empty', () => {
    const old = line({}, 17);

    expect(parseServerAccessLogLine(old)).toMatchObject({
      userAgent: 'curl/8.5.0 worker-fleet-agent',
      hostId: '',
      sourceRegion: '',
    });
  });

  it.each([
    ['a negative offset', '[25/Nov/2026:04:10:11 -0500]', '2026-11-25T09:10:11.000Z'],
    ['an offset with minutes', '[25/Nov/2026:14:40:11 +0530]', '2026-11-25T09:10:11.000Z'],
    ['nines in every place', '[29/Sep/2029:19:59:59 +0900]', '2029-09-29T10:59:59.000Z'],
  ])('reads a time with %s', (_name, time, iso) => {
    expect(parseServerAccessLogLine(line({ 2: time }))).toMatchObject({ time: iso });
  });

  it.each([
    ['a status of -', '-', undefined],
    ['the lowest status', '100', 100],
    ['the highest status', '599', 599],
  ])('reads %s', (_name, status, httpStatus) => {
    expect(errorOf(line({ 9: status }))).toBeUndefined();
    expect(parseServerAccessLogLine(line({ 9: status }))).toHaveProperty('httpStatus', httpStatus);
  });

  it('reads counts of one, two and fifteen digits, nines included, as whole numbers', () => {
    expect(
      parseServerAccessLogLine(line({ 11: '1', 12: '2', 13: '1900', 14: '123456789012345' })),
    ).toMatchObject({
      bytesSent: 1,
      objectSize: 2,
      totalTimeMs: 1900,
      turnAroundTimeMs: 123456789012345,
    });
  });

  it('reads aclRequired other than Yes as false', () => {
    expect(parseServerAccessLogLine(line({ 25: 'No' }))).toMatchObject({ aclRequired: false });
  });

  it('keeps a one-character key and a key that starts with a dash', () => {
    expect(parseServerAccessLogLine(line({ 7: 'a' }))).toMatchObject({ key: 'a' });
    expect(parseServerAccessLogLine(line({ 7: '-draft.json' }))).toMatchObject({ key: '-draft.json' });
  });

  it('reads a line whatever the length of its first field, or a space before it', () => {
    expect(parseServerAccessLogLine(line({ 0: 'ab' }))).toMatchObject({ bucketOwner: 'ab' });
    expect(parseServerAccessLogLine(` ${line()}`)).toMatchObject({ bucketOwner: OWNER });
  });

  it('ignores fields AWS may add after the documented ones', () => {
    expect(parseServerAccessLogLine(`${line()} future-field "another one"`)).toMatchObject({
      sourceRegion: 'us-east-1',
    });
  });

  it.each([
    ['ASCII escapes, either case', 'a%20b%2Bc%2fd', 'a b+c/d'],
    ['a multi-byte character beside an ASCII escape', 'caf%C3%A9%20au%20lait', 'café au lait'],
    ['no escape at all', 'results/plain.json', 'results/plain.json'],
    ['digits and no escape', '2026/11/25.json', '2026/11/25.json'],
    ['not valid URL encoding: kept as it is', 'odd%ZZkey', 'odd%ZZkey'],
    ['an escape cut short at the end: kept as it is', 'ends-with%2', 'ends-with%2'],
    ['a lone byte of a multi-byte character: kept as it is', 'half%C3', 'half%C3'],
    ['an escape at the very start', '%41bc', 'Abc'],
    ['a lower-case escape alone', 'a%2fb', 'a/b'],
    ['one escape after a digit', 'part1%20b', 'part1 b'],
    ['one escape after letters', 'ab%20c', 'ab c'],
    ['a letter just past F: kept as it is', 'x%4G', 'x%4G'],
    ['a letter just past f: kept as it is', 'x%4g', 'x%4g'],
    ['a sign just before A: kept as it is', 'x%4@', 'x%4@'],
    ['a first digit that is not hex: kept as it is', 'x%G0', 'x%G0'],
  ])('URL-decodes the key: %s', (_name, raw, key) => {
    expect(parseServerAccessLogLine(line({ 7: raw }))).toMatchObject({ key });
  });

  it.each([
    ['a truncated quote', line().slice(0, line().indexOf('"curl') + 6), 'unclosed quote or bracket'],
    ['too few fields', line({}, 12), '12 fields, at least 17 expected'],
    ['a bad time', line({ 2: '[2026-11-25T09:10:11Z]' }), 'time "2026-11-25T09:10:11Z"'],
    ['a bad status', line({ 9: 'OK' }), 'HTTP status "OK"'],
    ['a bad byte count', line({ 12: 'lots' }), 'a byte count or time is not a whole number'],
    ['garbage', 'this is not an access log line at all', '9 fields'],
    ['a time one character too long', line({ 2: '[25/Nov/2026:09:10:11 +00000]' }), 'time "'],
    ['a time without its first slash', line({ 2: '[25-Nov/2026:09:10:11 +0000]' }), 'time "'],
    ['a time without its second slash', line({ 2: '[25/Nov-2026:09:10:11 +0000]' }), 'time "'],
    ['a time without the space before its offset', line({ 2: '[25/Nov/2026:09:10:11T+0000]' }), 'time "'],
    ['a time whose offset has no sign', line({ 2: '[25/Nov/2026:09:10:11 ~0000]' }), 'time "'],
    ['a time with an unknown month', line({ 2: '[25/Nvm/2026:09:10:11 +0000]' }), 'time "'],
    ['a time with a letter for a digit', line({ 2: '[2x/Nov/2026:09:10:11 +0000]' }), 'time "'],
    ['a time with a point for a digit', line({ 2: '[2./Nov/2026:09:10:11 +0000]' }), 'time "'],
    ['a status below 100', line({ 9: '99' }), 'HTTP status "99"'],
    ['a status above 599', line({ 9: '600' }), 'HTTP status "600"'],
    ['a count with a decimal point', line({ 12: '12.5' }), 'a byte count or time is not a whole number'],
    ['a count of sixteen digits', line({ 12: '1234567890123456' }), 'not a whole number'],
    ['a negative count', line({ 12: '-5' }), 'not a whole number'],
  ])('reports %s', (_name, bad, reason) => {
    const parsed = parseServerAccessLogLine(bad);

    expect('error' in parsed && parsed.error).toContain(reason);
  });
});

describe('parseServerAccessLog', () => {
  it('yields one entry per line, numbered, and reports bad lines without losing their neighbours', async () => {
    const log = [line(), 'garbage line', '', line({ 6: 'REST.GET.OBJECT' }), line().slice(0, 80)].join('\n');

    const results = await collect(chunksOf(log));

    expect(
      results.map((result) =>
        'entry' in result ? [result.line, result.entry.operation] : [result.line, 'error'],
      ),
    ).toEqual([
      [1, 'REST.PUT.OBJECT'],
      [2, 'error'],
      [4, 'REST.GET.OBJECT'],
      [5, 'error'],
    ]);
    expect(results[1]).toMatchObject({
      line: 2,
      text: 'garbage line',
      error: expect.stringContaining('fields'),
    });
  });

  it('joins lines split across chunks, even inside a UTF-8 character, and accepts CRLF', async () => {
    const bytes = new TextEncoder().encode(`${line({ 7: 'caf%C3%A9', 16: '"agent é"' })}\r\n${line()}`);
    const splitInsideE = bytes.indexOf(0xc3) + 1;

    const results = await collect(
      chunksOf(bytes.slice(0, 10), bytes.slice(10, splitInsideE), bytes.slice(splitInsideE)),
    );

    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({
      line: 1,
      entry: { key: 'café', userAgent: 'agent é', sourceRegion: 'us-east-1' },
    });
    expect(results[1]).toMatchObject({ line: 2, entry: { sourceRegion: 'us-east-1' } });
  });

  it('decodes every chunk after one that is not ASCII as UTF-8, whatever they hold', async () => {
    const encoder = new TextEncoder();
    const chunks = [
      encoder.encode(`${line()}\n`),
      encoder.encode(`${line({ 16: '"agent ü"' })}\n${line().slice(0, 40)}`),
      encoder.encode(`${line().slice(40)}\n`),
    ];

    const results = await collect(chunksOf(...chunks));

    expect(results.map((result) => ('entry' in result ? result.entry.userAgent : result.error))).toEqual([
      'curl/8.5.0 worker-fleet-agent',
      'agent ü',
      'curl/8.5.0 worker-fleet-agent',
    ]);
  });

  it('reads a chunk that starts with a newline as the end of the line before', async () => {
    const results = await collect(chunksOf(line(), `\n${line({ 6: 'REST.GET.OBJECT' })}\n`));

    expect(results.map((result) => ('entry' in result ? result.entry.operation : result.error))).toEqual([
      'REST.PUT.OBJECT',
      'REST.GET.OBJECT',
    ]);
  });

  it('reads the fields of a short line from that line only, not from the next', async () => {
    const results = await collect(chunksOf(`${line({}, 17)}\n${line()}\n`));

    expect(results[0]).toMatchObject({ line: 1, entry: { hostId: '', sourceRegion: '' } });
    expect(results[1]).toMatchObject({ line: 2, entry: { sourceRegion: 'us-east-1' } });
  });

  it('skips lines of spaces or tabs, reads a line that starts with one, and yields no empty batch', async () => {
    const batches = await batchesOf(chunksOf('\n', `   \n${line()}\n`, '\t\t\n', ` \t \n ${line()}\n`));

    expect(batches).toEqual([
      [{ line: 3, entry: expect.anything() }],
      [{ line: 6, entry: expect.anything() }],
    ]);
  });

  it('reports a line of other white space instead of skipping it', async () => {
    expect(await collect(chunksOf(`\f\n${line()}`))).toMatchObject([
      { line: 1, error: expect.any(String) },
      { line: 2 },
    ]);
  });

  it('keeps the first 200 characters of a line it cannot read', async () => {
    const [result] = await collect(chunksOf(`${'x'.repeat(300)}\n`));

    expect(result).toMatchObject({ line: 1, text: 'x'.repeat(200) });
  });

  it('yields at most 512 results a batch', async () => {
    const batches = await batchesOf(chunksOf(`${Array.from({ length: 1100 }, () => line()).join('\n')}\n`));

    expect(batches.map((batch) => batch.length)).toEqual([512, 512, 76]);
    expect(batches.flat().map((result) => result.line)).toEqual(
      Array.from({ length: 1100 }, (_, n) => n + 1),
    );
  });

  it('keeps a byte that is not UTF-8 in place, as a replacement character', async () => {
    const encoder = new TextEncoder();
    const text = line({ 16: '"agent ?"' });
    const at = text.indexOf('?');
    const chunks = [
      encoder.encode(`${line()}\n`),
      new Uint8Array([...encoder.encode(text.slice(0, at)), 0xc3]),
      encoder.encode(`${text.slice(at + 1)}\n${line()}\n`),
    ];

    const results = await collect(chunksOf(...chunks));

    expect(results.map((result) => ('entry' in result ? result.entry.userAgent : result.error))).toEqual([
      'curl/8.5.0 worker-fleet-agent',
      'agent \ufffd',
      'curl/8.5.0 worker-fleet-agent',
    ]);
  });

  it('yields nothing for an empty log', async () => {
    expect(await collect(chunksOf())).toEqual([]);
  });
});
