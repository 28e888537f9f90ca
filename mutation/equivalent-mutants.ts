/**
 * Surviving mutants that no test can detect: the mutated code behaves as the original for every input the module
 * can be given. Matched by file name, mutator and text (not line), so they follow their code when it moves; a listed
 * mutant that no longer survives is reported as such in results.md.
 */
export interface EquivalentMutant {
  /** The module's file name, without its folder. */
  readonly file: string;
  readonly mutator: string;
  /** The code as written (white space does not matter). */
  readonly original: string;
  readonly replacement: string;
  /** Part of the source line the mutant starts on, where the mutated text alone could be another mutant's. */
  readonly line?: string;
  readonly reason: string;
}

const each = (
  file: string,
  reason: string,
  mutants: readonly (readonly [mutator: string, original: string, replacement: string, line?: string])[],
): EquivalentMutant[] =>
  mutants.map(([mutator, original, replacement, line]) => ({
    file,
    mutator,
    original,
    replacement,
    ...(line === undefined ? {} : { line }),
    reason,
  }));

const CPU_PEAK_GUARD = 'settings.maxPercent !== undefined && maximum.length > 0';
const LIFETIME_GUARD = 'age !== undefined && settings.maxLifetimeHours !== undefined';
const HEX_REFUSED =
  'A character wrongly refused as a hex digit sends the whole key to decodeURIComponent, which decodes it the same way (only slower).';
const UNTAGGED_UNDER_UNDEFINED =
  'A worker without the replaces tag would be filed under the key undefined, which no lookup by instance id reads.';
const SCRATCH =
  'Writes a scratch slot that is never read: the bucket owner, request URI, referer and user agent are read again from the line when asked for.';

export const EQUIVALENT_MUTANTS: readonly EquivalentMutant[] = [
  ...each(
    'idle-policy.ts',
    "A vote is only ever compared with 'busy' and 'unknown': any other value counts as idle, so the idle vote's name is never read.",
    [['StringLiteral', "'idle'", '""']],
  ),
  ...each(
    'idle-policy.ts',
    "Without cpu data the average is empty too, and the vote returns 'no cpu data' before the maximum is read.",
    [['ArrayDeclaration', '[]', '["Stryker was here"]', 'const maximum = signals.cpu?.maximum ?? [];']],
  ),
  ...each(
    'idle-policy.ts',
    'The guard only skips a comparison that is false anyway: a peak ≥ undefined, and Math.max() of no value (−Infinity) ≥ maxPercent.',
    [
      ['ConditionalExpression', CPU_PEAK_GUARD, 'true'],
      ['LogicalOperator', CPU_PEAK_GUARD, 'settings.maxPercent !== undefined || maximum.length > 0'],
      ['ConditionalExpression', 'settings.maxPercent !== undefined', 'true', CPU_PEAK_GUARD],
      ['ConditionalExpression', 'maximum.length > 0', 'true'],
      ['EqualityOperator', 'maximum.length > 0', 'maximum.length >= 0'],
    ],
  ),
  ...each(
    'idle-policy.ts',
    'Without a launch time or a max lifetime, age ≥ maxLifetimeHours × 3,600,000 is already false (undefined or NaN): the guard changes nothing.',
    [
      ['ConditionalExpression', LIFETIME_GUARD, 'true'],
      ['LogicalOperator', LIFETIME_GUARD, 'age !== undefined || settings.maxLifetimeHours !== undefined'],
      ['ConditionalExpression', 'age !== undefined', 'true', 'age !== undefined &&'],
      ['ConditionalExpression', 'settings.maxLifetimeHours !== undefined', 'true'],
    ],
  ),
  ...each(
    'pool-memory.ts',
    'A new pool would start with a stray entry, which the same call forgets at once: its time parses as NaN, never recent.',
    [['ArrayDeclaration', '[]', '["Stryker was here"]', 'pools[key] = [...(pools[key] ?? [])']],
  ),
  ...each(
    'pool-memory.ts',
    'The tie-break only orders pools of equal rank, and sort is stable: V8 compares a later pool with an earlier one, so a+b and a−b are both positive there (a 40-pool test, two merged runs, keeps its order).',
    [['ArithmeticOperator', 'a.index - b.index', 'a.index + b.index']],
  ),
  ...each(
    'reap-plan.ts',
    'new Date(undefined) is an invalid date, which the next line turns into undefined all the same.',
    [['ConditionalExpression', 'value === undefined', 'false']],
  ),
  ...each(
    'reap-plan.ts',
    'Without a replacement launch time the retire time is NaN (or undefined), and now ≥ NaN (or undefined) is false: the worker is kept all the same.',
    [
      ['ConditionalExpression', 'replacedAt === undefined', 'false'],
      ['ConditionalExpression', 'retireAt !== undefined', 'true'],
    ],
  ),
  ...each(
    'reap-plan.ts',
    'The explanation is only built once the retire time is known, which needs a replacement: it is never undefined there.',
    [['OptionalChaining', 'replacement?.instanceId', 'replacement.instanceId']],
  ),
  ...each('reap-plan.ts', UNTAGGED_UNDER_UNDEFINED, [
    [
      'ConditionalExpression',
      'replaces !== undefined',
      'true',
      'if (replaces !== undefined) replacements.set',
    ],
  ]),
  ...each('reconcile-plan.ts', UNTAGGED_UNDER_UNDEFINED, [
    ['ConditionalExpression', 'replaces !== undefined', 'true'],
  ]),
  ...each(
    'reconcile-plan.ts',
    "A request id is an event's id or a trigger's slot: none is the stray id, so no request is taken as applied.",
    [['ArrayDeclaration', '[]', '["Stryker was here"]', 'const seen = new Set(record.applied ?? []);']],
  ),
  ...each(
    'access-alerts.ts',
    'An access at the same time as the first (or last) one leaves that time as it is.',
    [
      ['EqualityOperator', 'access.time < tally.firstTime', 'access.time <= tally.firstTime'],
      ['EqualityOperator', 'access.time > tally.lastTime', 'access.time >= tally.lastTime'],
    ],
  ),
  ...each(
    'access-record.ts',
    "The marker found at 0 means the principal starts with ':', not 'arn:aws', and the same condition refuses it.",
    [['EqualityOperator', 'at < 0', 'at <= 0']],
  ),
  ...each(
    'server-access-log.ts',
    'Past the end charCodeAt is NaN, never a space: the loop stops there anyway.',
    [
      ['ConditionalExpression', 'at < length', 'true'],
      ['EqualityOperator', 'at < length', 'at <= length'],
    ],
  ),
  ...each(
    'server-access-log.ts',
    'The search starts after the field’s first character, so what it finds is never at 0.',
    [
      ['EqualityOperator', 'close < 0', 'close <= 0'],
      ['EqualityOperator', 'space < 0', 'space <= 0'],
      ['EqualityOperator', 'candidate >= 0', 'candidate > 0'],
      ['EqualityOperator', 'close >= 0', 'close > 0'],
    ],
  ),
  ...each(
    'server-access-log.ts',
    'Searching for the `]` from the character before the `[` (a space, or the start of the line) finds the same `]`.',
    [['ArithmeticOperator', 'at + 1', 'at - 1', "line.indexOf(']', at + 1)"]],
  ),
  ...each(
    'server-access-log.ts',
    'The last time read is a cache: reading the time again, or starting from another empty cache, gives the same answer.',
    [
      ['ConditionalExpression', 'raw !== lastTime.raw', 'true'],
      ['ObjectLiteral', "{ raw: '', iso: undefined }", '{}'],
      ['StringLiteral', "''", '"Stryker was here!"', 'let lastTime'],
    ],
  ),
  ...each('server-access-log.ts', HEX_REFUSED, [
    ['ArithmeticOperator', 'code - DIGIT_0', 'code + DIGIT_0'],
    ['ConditionalExpression', 'code >= UPPER_A && code <= UPPER_F', 'false'],
    ['EqualityOperator', 'code >= UPPER_A', 'code > UPPER_A'],
    ['EqualityOperator', 'code <= UPPER_F', 'code < UPPER_F'],
    ['ArithmeticOperator', 'code - UPPER_A + 10', 'code - UPPER_A - 10'],
    ['ConditionalExpression', 'code >= LOWER_A && code <= LOWER_F', 'false'],
    ['EqualityOperator', 'code >= LOWER_A', 'code > LOWER_A'],
    ['EqualityOperator', 'code <= LOWER_F', 'code < LOWER_F'],
    ['ArithmeticOperator', 'code - LOWER_A + 10', 'code - LOWER_A - 10'],
    ['ConditionalExpression', 'high < 0 || high > 7 || low < 0', 'true'],
    ['EqualityOperator', 'high < 0', 'high <= 0'],
    ['EqualityOperator', 'high > 7', 'high >= 7'],
    ['EqualityOperator', 'low < 0', 'low <= 0'],
  ]),
  ...each('server-access-log.ts', 'A function that ends without a return gives undefined all the same.', [
    ['BlockStatement', '{ return undefined; }', '{}'],
  ]),
  ...each(
    'server-access-log.ts',
    'Without a % the loop does not run, and the key comes back whole all the same.',
    [['ConditionalExpression', 'percent < 0', 'false']],
  ),
  ...each(
    'server-access-log.ts',
    "indexOf('') never runs out, so the loop only ends by reading past the key: a refused hex digit, and decodeURIComponent of the whole key, which decodes the same.",
    [['StringLiteral', "'%'", '""', "percent = raw.indexOf('%', from)"]],
  ),
  ...each(
    'server-access-log.ts',
    "One field more or less read or padded at the end of allFields: no getter asks past the 27th, and a missing one reads as '' either way.",
    [
      ['EqualityOperator', 'values.length < DOCUMENTED_FIELDS', 'values.length <= DOCUMENTED_FIELDS'],
      ['ConditionalExpression', 'values.length < DOCUMENTED_FIELDS', 'false'],
      ['EqualityOperator', 'at < 0', 'at <= 0', 'if (at < 0) break'],
    ],
  ),
  ...each('server-access-log.ts', SCRATCH, [
    ['ConditionalExpression', 'field <= FIELD.turnAroundTime', 'true'],
    [
      'ArrowFunction',
      '(field: number) => field === FIELD.bucketOwner || field === FIELD.requestUri || field >= FIELD.referer',
      '() => undefined',
    ],
    [
      'ConditionalExpression',
      'field === FIELD.bucketOwner || field === FIELD.requestUri || field >= FIELD.referer',
      'false',
    ],
    [
      'LogicalOperator',
      'field === FIELD.bucketOwner || field === FIELD.requestUri || field >= FIELD.referer',
      '(field === FIELD.bucketOwner || field === FIELD.requestUri) && field >= FIELD.referer',
    ],
    ['ConditionalExpression', 'field === FIELD.bucketOwner || field === FIELD.requestUri', 'false'],
    [
      'LogicalOperator',
      'field === FIELD.bucketOwner || field === FIELD.requestUri',
      'field === FIELD.bucketOwner && field === FIELD.requestUri',
    ],
    ['ConditionalExpression', 'field === FIELD.bucketOwner', 'false'],
    ['ConditionalExpression', 'field === FIELD.requestUri', 'false', 'field === FIELD.bucketOwner ||'],
    ['EqualityOperator', 'field >= FIELD.referer', 'field > FIELD.referer'],
    ['ConditionalExpression', 'field >= FIELD.referer', 'false'],
    ['ConditionalExpression', '!isReadLater(field)', 'true'],
  ]),
  ...each(
    'server-access-log.ts',
    'Every scratch slot is written before it is read, on every line: their size and first value never show.',
    [
      ['ArrayDeclaration', 'new Array(REQUIRED_FIELDS)', 'new Array()'],
      ['StringLiteral', "''", '"Stryker was here!"', 'const texts'],
    ],
  ),
  ...each(
    'server-access-log.ts',
    "The field is always there (27 documented ones padded, every required one set), so the fallback '' is never used.",
    [
      ['StringLiteral', "''", '"Stryker was here!"', 'return this.#fields[index]'],
      ['StringLiteral', "''", '"Stryker was here!"', 'const textOf'],
    ],
  ),
  ...each('server-access-log.ts', 'NOT_A_COUNT (−1) is below 100: the range check refuses it anyway.', [
    ['ConditionalExpression', 'status === NOT_A_COUNT', 'false'],
  ]),
  ...each(
    'server-access-log.ts',
    "The Latin-1 copy of an ASCII chunk is only a faster way to the same text as the UTF-8 decoder's (whose default encoding is UTF-8).",
    [
      ['StringLiteral', "'utf8'", '""'],
      ['BooleanLiteral', 'false', 'true', '#utf8 = false'],
      ['ConditionalExpression', '!this.#utf8 && isAscii(chunk)', 'false'],
      [
        'BlockStatement',
        "{ return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1'); }",
        '{}',
      ],
    ],
  ),
  ...each(
    'server-access-log.ts',
    'Only how much of a line being skipped is held changes: what pending holds then is never read (the line’s end resets it), and the report keeps the first 200 characters either way.',
    [
      [
        'MethodExpression',
        '(pending + text.slice(start, start + ERROR_TEXT)).slice(0, ERROR_TEXT)',
        'pending + text.slice(start, start + ERROR_TEXT)',
      ],
      ['StringLiteral', "''", '"Stryker was here!"', "pending = '';"],
    ],
  ),
  ...each(
    'server-access-log.ts',
    'An empty last line adds nothing: addResult skips it, and an empty result list is not yielded.',
    [
      ['ConditionalExpression', "pending !== ''", 'true'],
      ['StringLiteral', "''", '"Stryker was here!"', "if (pending !== '')"],
    ],
  ),
  ...each(
    'retirement-plan.ts',
    'Date.parse(undefined) is NaN, which the next line turns into the fallback all the same.',
    [['ConditionalExpression', 'value === undefined', 'false', 'const at = value === undefined']],
  ),
  ...each(
    'retirement-plan.ts',
    'Without a notBefore, Date.parse(undefined) is NaN, and now < NaN is false: no wait all the same.',
    [['ConditionalExpression', 'fact.notBefore !== undefined', 'true']],
  ),
  ...each(
    'retirement-plan.ts',
    'A worker that replaces none has replaces undefined, which no retiring set holds: counted all the same.',
    [['ConditionalExpression', 'replaces === undefined', 'false']],
  ),
  ...each(
    'retirement-plan.ts',
    'Without a notAfter, Date.parse(undefined) is NaN, which the next line turns into undefined all the same.',
    [['ConditionalExpression', 'fact.notAfter === undefined', 'false']],
  ),
  ...each(
    'retirement-plan.ts',
    'Without a notAfter, the sum is NaN and now >= NaN is false: no hurry all the same.',
    [['ConditionalExpression', 'notAfter !== undefined', 'true']],
  ),
  ...each(
    'due-retirements.ts',
    "A stray first change has no start: V8's sort only compares it as the second operand, where localeCompare reads it as 'undefined', after every ISO date, so the earliest change stays first.",
    [['ArrayDeclaration', '[]', '["Stryker was here"]', 'open.set(change.instanceId']],
  ),
  ...each(
    'due-retirements.ts',
    'A stray change would be filed under the instance id undefined, which no worker’s id reads.',
    [['ArrayDeclaration', '[]', '["Stryker was here"]', 'const open = openChanges(']],
  ),
  ...each(
    'due-retirements.ts',
    'A worker is drifted only when its image and the fleet’s are both known (isDrifted): neither fallback is ever used.',
    [
      ['StringLiteral', "''", '"Stryker was here!"', 'detail: { imageId: worker.imageId'],
      ['OptionalChaining', 'facts.image?.imageId', 'facts.image.imageId'],
    ],
  ),
  ...each(
    'due-retirements.ts',
    'Every scheduled retirement has its change’s start as notAfter: it is never undefined there.',
    [
      ['OptionalChaining', 'a.notAfter?.getTime', 'a.notAfter.getTime'],
      ['OptionalChaining', 'b.notAfter?.getTime', 'b.notAfter.getTime'],
    ],
  ),
  ...each(
    'disruption-windows.ts',
    'A stray window has no cron expression, which cron-parser reads as every minute: nothing is refused, as without windows.',
    [['ArrayDeclaration', '[]', '["Stryker was here"]', 'spec.disruption?.windows ?? []']],
  ),
  ...each(
    'health.ts',
    'The zone and the month are groups a match always has: the fallbacks are never used.',
    [
      ['StringLiteral', "'GMT'", '""', "zone = 'GMT'"],
      ['StringLiteral', "''", '"Stryker was here!"', "MONTHS.indexOf(month ?? '')"],
    ],
  ),
  ...each(
    'health.ts',
    'A zone is GMT, UTC, or a sign and four digits: a sign is always its first character.',
    [['Regex', '/^[+-]/', '/[+-]/']],
  ),
  ...each(
    'health.ts',
    'An hour of 24 or more rolls the date into another day, which the day check refuses all the same.',
    [
      ['ConditionalExpression', 'Number(hours) < 24', 'true'],
      ['EqualityOperator', 'Number(hours) < 24', 'Number(hours) <= 24'],
    ],
  ),
  ...each('health.ts', 'A stray resource is not an instance id: it is left out, as if there were none.', [
    ['ArrayDeclaration', '[]', '["Stryker was here"]', '(resources ?? [])'],
  ]),
  ...each(
    'health.ts',
    'The schema has already refused a startTime that parseHealthTime cannot read: it is never undefined here.',
    [
      ['ConditionalExpression', 'startsAt === undefined', 'false'],
      ['StringLiteral', "'malformed Health event: startTime'", '""'],
    ],
  ),
];

/** Survivors that are not equivalent but are left alive on purpose, with why: they are still counted as survivors. */
export const LEFT_ALIVE: readonly EquivalentMutant[] = [];
