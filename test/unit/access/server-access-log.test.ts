import {
  MAX_LINE,
  parseServerAccessLog,
  parseServerAccessLogLine,
} from '../../../src/access/server-access-log';

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
    // The key `results/batch 1/out+put.json`: its request path's encoding, encoded again (as S3 writes a PUT's key).
    'results/batch%25201/out%252Bput.json',
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
      rawKey: 'results/batch%25201/out%252Bput.json',
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
    expect(parseServerAccessLogLine(`${line()} future-field another-one`)).toMatchObject({
      userAgent: 'curl/8.5.0 worker-fleet-agent',
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

  // docs/access-key-encoding.md: the evidence for each row.
  it.each([
    [
      'a space as + in a multi-object delete (encoded once)',
      'BATCH.DELETE.OBJECT',
      'Screen+Shot+2019-09-09+at+9.08.44+AM.png',
      'Screen Shot 2019-09-09 at 9.08.44 AM.png',
    ],
    ['a percent sign in a multi-object delete', 'BATCH.DELETE.OBJECT', 'foo-%25Y', 'foo-%Y'],
    ['a plus in a multi-object delete', 'BATCH.DELETE.OBJECT', 'a%2Bb', 'a+b'],
    ["a key in S3's own expiry (encoded once)", 'S3.EXPIRE.OBJECT', 'old+logs/2019%2B1', 'old logs/2019+1'],
    ['a percent sign in a GET (encoded twice)', 'REST.GET.OBJECT', 'foo-%2525Y', 'foo-%Y'],
    ['a quote in a GET', 'REST.GET.OBJECT', '%2522', '"'],
    ['a multi-byte character in a GET', 'REST.GET.OBJECT', 'caf%25C3%25A9', 'café'],
    ['a plus in a PUT: a plus, not a space', 'REST.PUT.OBJECT', 'a+b%2520c', 'a+b c'],
    ['a GET key encoded once only: kept as it is', 'REST.GET.OBJECT', '100%25', '100%25'],
    ['a delete key that is not URL encoding: kept as it is', 'BATCH.DELETE.OBJECT', '50%+off', '50%+off'],
    ['a key of a website GET (encoded twice)', 'WEBSITE.GET.OBJECT', 'a%2520b', 'a b'],
  ])('decodes the key by its operation: %s', (_name, operation, rawKey, key) => {
    expect(parseServerAccessLogLine(line({ 6: operation, 7: rawKey }))).toMatchObject({ key, rawKey });
  });

  it('reads an operation without a key as an empty key and raw key', () => {
    expect(parseServerAccessLogLine(line({ 6: 'REST.GET.BUCKET', 7: '-' }))).toMatchObject({
      key: '',
      rawKey: '',
    });
  });

  describe('a quote inside a quoted field moves no later field', () => {
    const tail = {
      hostId: 'hOsTiDqQ1234=',
      signatureVersion: 'SigV4',
      authenticationType: 'AuthHeader',
      tlsVersion: 'TLSv1.3',
      sourceRegion: 'us-east-1',
    };

    it.each([
      // aws-samples/siem-on-amazon-opensearch-service#34: a user agent ending in a quote.
      [
        'a user agent ending in a quote',
        { 16: '"Mozilla/5.0 (iPad) Safari/604.1""' },
        { userAgent: 'Mozilla/5.0 (iPad) Safari/604.1"' },
      ],
      [
        'a user agent that writes a whole fake tail',
        { 16: '"x" - fake SigV2 c QueryString h TLSv1 - - eu-west-1 more"' },
        { userAgent: 'x" - fake SigV2 c QueryString h TLSv1 - - eu-west-1 more' },
      ],
      [
        'a referer holding a quote',
        { 15: '"http://a/"b"' },
        { referer: 'http://a/"b', userAgent: 'curl/8.5.0 worker-fleet-agent' },
      ],
      // Both come from the request's own headers: the split between them is a guess, nothing after them moves.
      [
        'a referer holding " "',
        { 15: '"a" "b"' },
        { referer: 'a', userAgent: 'b" "curl/8.5.0 worker-fleet-agent' },
      ],
      [
        'a referer holding " - before a user agent of -',
        { 15: '"a" - b"', 16: '-' },
        { referer: 'a" - b', userAgent: '' },
      ],
      ['a user agent of - after a plain referer', { 16: '-' }, { referer: '', userAgent: '' }],
    ])('%s', (_name, overrides, fields) => {
      expect(parseServerAccessLogLine(line(overrides))).toMatchObject({
        ...fields,
        ...tail,
        httpStatus: 200,
      });
    });

    it.each([
      // cocoonlife/s3-log-parse#1: a request line holding a quote, as S3 logged it.
      ['a quote in the request URI', '"GET /" HTTP/1.1"', 'GET /" HTTP/1.1'],
      ['a quote and two digits in the request URI', '"GET /a" 20 HTTP/1.1"', 'GET /a" 20 HTTP/1.1'],
      ['a quote and four digits in the request URI', '"GET /a" 2000 HTTP/1.1"', 'GET /a" 2000 HTTP/1.1'],
      ['a quote and a letter among digits', '"GET /a" 2x0 HTTP/1.1"', 'GET /a" 2x0 HTTP/1.1'],
      ['a quote and a letter after two digits', '"GET /a" 20x HTTP/1.1"', 'GET /a" 20x HTTP/1.1'],
      ['a quote and a letter first', '"GET /a" x00 HTTP/1.1"', 'GET /a" x00 HTTP/1.1'],
      [
        'a quote and three digits without a space after them',
        '"GET /a" 200x HTTP/1.1"',
        'GET /a" 200x HTTP/1.1',
      ],
      [
        'a quote and three digits without a space before them',
        '"GET /a"200 HTTP/1.1"',
        'GET /a"200 HTTP/1.1',
      ],
      ['a quote and a letter, then three digits', '"GET /a"x200 HTTP/1.1"', 'GET /a"x200 HTTP/1.1'],
      ['digits before a quote and a letter after it', '"GET /123" 2x0 HTTP/1.1"', 'GET /123" 2x0 HTTP/1.1'],
      ['a quote and a point among digits', '"GET /a" 2.0 HTTP/1.1"', 'GET /a" 2.0 HTTP/1.1'],
    ])('%s', (_name, written, requestUri) => {
      const entry = parseServerAccessLogLine(line({ 8: written, 9: '403', 10: 'AccessDenied', 11: '243' }));

      expect(entry).toMatchObject({
        requestUri,
        httpStatus: 403,
        errorCode: 'AccessDenied',
        bytesSent: 243,
        ...tail,
      });
    });

    it.each(['100', '599', '304'])('finds a status of %s after a quote in the request URI', (status) => {
      expect(parseServerAccessLogLine(line({ 8: '"GET /a" b HTTP/1.1"', 9: status }))).toMatchObject({
        requestUri: 'GET /a" b HTTP/1.1',
        httpStatus: Number(status),
        ...tail,
      });
    });

    it('reads the request URI to its first quote when no status follows any (a status of -)', () => {
      expect(parseServerAccessLogLine(line({ 9: '-' }))).toMatchObject({
        requestUri: 'PUT /results/batch%201/out%2Bput.json HTTP/1.1',
        httpStatus: undefined,
        ...tail,
      });
    });

    it('reads a quoted field after the user agent (one AWS may add) to its first quote', () => {
      expect(parseServerAccessLogLine(line({ 15: '-', 16: '-', 17: '"a" x"' }))).toMatchObject({
        referer: '',
        userAgent: '',
        versionId: 'a',
        hostId: 'x"',
      });
    });

    it.each([
      ['a request URI cut short', `${line({}, 8)} "GET /a/b`],
      ['a referer cut short', `${line({}, 15)} "http://a/b`],
      ['a user agent cut short after a referer', `${line({}, 16)} "curl`],
    ])('reports %s as truncated', (_name, bad) => {
      expect(errorOf(bad)).toContain('unclosed quote');
    });
  });

  it.each([
    ['31 February', '[31/Feb/2026:09:10:11 +0000]'],
    ['29 February of a common year', '[29/Feb/2027:09:10:11 +0000]'],
    ['day 0', '[00/Nov/2026:09:10:11 +0000]'],
    ['hour 24', '[25/Nov/2026:24:10:11 +0000]'],
    ['hour 25', '[25/Nov/2026:25:10:11 +0000]'],
    ['minute 60', '[25/Nov/2026:09:60:11 +0000]'],
    ['second 60', '[25/Nov/2026:09:10:60 +0000]'],
    ['a two-digit year', '[25/Nov/0026:09:10:11 +0000]'],
    ['an offset of 24 hours', '[25/Nov/2026:09:10:11 +2400]'],
    ['an offset of 60 minutes', '[25/Nov/2026:09:10:11 +0060]'],
    ['an offset that is not digits', '[25/Nov/2026:09:10:11 +00x0]'],
  ])('reports an impossible time: %s', (_name, time) => {
    expect(errorOf(line({ 2: time }))).toBe(`time "${time.slice(1, -1)}" is not dd/Mon/yyyy:HH:MM:SS +zzzz`);
  });

  it.each([
    ['29 February of a leap year', '[29/Feb/2028:09:10:11 +0000]', '2028-02-29T09:10:11.000Z'],
    ['the last second of a year', '[31/Dec/2026:23:59:59 +0000]', '2026-12-31T23:59:59.000Z'],
    ['the largest offset', '[25/Nov/2026:23:59:59 +2359]', '2026-11-25T00:00:59.000Z'],
    ['the first second of a day, behind UTC', '[01/Jan/2027:00:00:00 -0001]', '2027-01-01T00:01:00.000Z'],
  ])('reads a time that exists: %s', (_name, time, iso) => {
    expect(parseServerAccessLogLine(line({ 2: time }))).toMatchObject({ time: iso });
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
    ['a time with a colon for a digit', line({ 2: '[0:/Nov/2026:09:10:11 +0000]' }), 'time "'],
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

  describe('a line longer than MAX_LINE', () => {
    /** A valid line of exactly `length` characters (its user agent padded). */
    const lineOf = (length: number) => {
      const short = line({ 16: '"ua"' });
      return line({ 16: `"${'u'.repeat(length - short.length + 2)}"` });
    };
    const summary = (results: Awaited<ReturnType<typeof collect>>) =>
      results.map((result) => ('entry' in result ? [result.line, 'entry'] : [result.line, result.error]));
    const tooLong = `line longer than ${MAX_LINE} characters`;

    it('reads a line of exactly MAX_LINE characters, in one chunk or across chunks', async () => {
      const longest = lineOf(MAX_LINE);
      expect(longest).toHaveLength(MAX_LINE);

      expect(summary(await collect(chunksOf(`${longest}\n${longest}`)))).toEqual([
        [1, 'entry'],
        [2, 'entry'],
      ]);
      expect(summary(await collect(chunksOf(longest.slice(0, 1000), `${longest.slice(1000)}\n`)))).toEqual([
        [1, 'entry'],
      ]);
      expect(summary(await collect(chunksOf(longest, '\n', line())))).toEqual([
        [1, 'entry'],
        [2, 'entry'],
      ]);
    });

    it('reports a line one character longer, with its first characters, and reads the lines around it', async () => {
      const long = lineOf(MAX_LINE + 1);

      const results = await collect(chunksOf(`${line({ 0: 'first' })}\n${long}\n${line()}\n`));

      expect(summary(results)).toEqual([
        [1, 'entry'],
        [2, tooLong],
        [3, 'entry'],
      ]);
      expect(results[1]).toMatchObject({ text: long.slice(0, 200) });
    });

    it('reports a line that grows too long across chunks once it is complete, never holding more of it', async () => {
      const long = lineOf(MAX_LINE + 1);
      const chunks = [
        `${line()}\n${long.slice(0, 100)}`,
        long.slice(100, MAX_LINE),
        long.slice(MAX_LINE),
        '\n',
        line(),
      ];

      expect(summary(await collect(chunksOf(...chunks)))).toEqual([
        [1, 'entry'],
        [2, tooLong],
        [3, 'entry'],
      ]);
    });

    it('skips megabytes of one line streamed in small chunks, keeping its first 200 characters', async () => {
      async function* endless() {
        yield `${line()}\nSTART`;
        for (let n = 0; n < 512; n += 1) yield 'x'.repeat(4096);
        yield `\n${line()}`;
      }

      const results = await collect(endless());

      expect(summary(results)).toEqual([
        [1, 'entry'],
        [2, tooLong],
        [3, 'entry'],
      ]);
      expect(results[1]).toMatchObject({ text: `START${'x'.repeat(195)}` });
    });

    it('reports a line too long when the previous chunk held part of it', async () => {
      const long = lineOf(MAX_LINE + 1);

      const results = await collect(chunksOf(long.slice(0, 1000), `${long.slice(1000)}\n${line()}`));

      expect(summary(results)).toEqual([
        [1, tooLong],
        [2, 'entry'],
      ]);
      expect(results[0]).toMatchObject({ text: long.slice(0, 200) });
    });

    it('reports a last line too long, whether or not its end was streamed past the limit', async () => {
      const long = lineOf(MAX_LINE + 1);

      const results = await collect(chunksOf(`${line()}\n`, long));

      expect(summary(results)).toEqual([
        [1, 'entry'],
        [2, tooLong],
      ]);
      expect(results[1]).toMatchObject({ text: long.slice(0, 200) });
      expect(summary(await collect(chunksOf(`${line()}\n`, long.slice(0, 10), long.slice(10))))).toEqual([
        [1, 'entry'],
        [2, tooLong],
      ]);
      const afterAnother = await collect(chunksOf(`${line({ 0: 'first' })}\n${long}`));
      expect(afterAnother[1]).toMatchObject({ line: 2, text: long.slice(0, 200) });
    });
  });

  it('yields nothing for an empty log', async () => {
    expect(await collect(chunksOf())).toEqual([]);
  });
});
