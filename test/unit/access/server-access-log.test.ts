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

async function collect(chunks: AsyncIterable<string | Uint8Array>) {
  const out = [];
  for await (const batch of parseServerAccessLog(chunks)) out.push(...batch);
  return out;
}

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

  it('ignores fields AWS may add after the documented ones', () => {
    expect(parseServerAccessLogLine(`${line()} future-field "another one"`)).toMatchObject({
      sourceRegion: 'us-east-1',
    });
  });

  it.each([
    ['ASCII escapes, either case', 'a%20b%2Bc%2fd', 'a b+c/d'],
    ['a multi-byte character beside an ASCII escape', 'caf%C3%A9%20au%20lait', 'café au lait'],
    ['no escape at all', 'results/plain.json', 'results/plain.json'],
    ['not valid URL encoding: kept as it is', 'odd%ZZkey', 'odd%ZZkey'],
    ['an escape cut short at the end: kept as it is', 'ends-with%2', 'ends-with%2'],
    ['a lone byte of a multi-byte character: kept as it is', 'half%C3', 'half%C3'],
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
    expect(results[0]).toMatchObject({ line: 1, entry: { key: 'café', userAgent: 'agent é' } });
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

  it('yields nothing for an empty log', async () => {
    expect(await collect(chunksOf())).toEqual([]);
  });
});
