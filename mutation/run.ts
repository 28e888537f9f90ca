/**
 * `npm run mutation`: Stryker over the pure core (stryker.config.mjs), then mutation/results.md from its JSON report:
 * the score of each mutated module, the surviving mutants judged equivalent (mutation/equivalent-mutants.ts, a reason
 * each) and every other survivor. `-- src/fleet/reconcile-plan.ts ...` mutates only the modules named (each one of
 * the config's list) and writes their lines into the section of results.md for modules run alone, leaving the last
 * full run's report as it is. `-- --report` rewrites results.md from the last run's report, mutating nothing.
 * Not in CI: about a quarter of an hour on two cores.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EQUIVALENT_MUTANTS, type EquivalentMutant, LEFT_ALIVE } from './equivalent-mutants';

const root = join(__dirname, '..');
const reportFile = join(root, 'reports/mutation/mutation.json');
const runFile = join(root, 'reports/mutation/run.json');

/** The parts of Stryker's JSON report (mutation-testing-report-schema) read here. */
interface Position {
  readonly line: number;
  readonly column: number;
}
interface MutantResult {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: string;
  readonly location: { readonly start: Position; readonly end: Position };
}
interface Report {
  readonly files: Readonly<
    Record<string, { readonly source: string; readonly mutants: readonly MutantResult[] }>
  >;
  readonly framework?: { readonly version?: string };
}

/** How the last run went: written by the run, read again by `--report`. */
interface Run {
  readonly date: string;
  readonly wallSeconds: number;
  /** User + system time of Stryker and its test runners: what the run costs whatever else the machine does. */
  readonly cpuSeconds?: number;
  readonly loadBefore: number;
  readonly machine: string;
  /** The modules mutated, when some were named; absent when the run mutated the config's whole list. */
  readonly modules?: readonly string[];
}

/** CPU seconds of this process's waited-for descendants (Linux: /proc/self/stat cutime + cstime). */
function childrenCpuSeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** `{a,b}` alternatives of a glob, expanded: the config's list names its modules so, with no other wildcard. */
function expandBraces(pattern: string): string[] {
  const group = /\{([^{}]*)\}/.exec(pattern);
  if (group === null) return [pattern];
  const [whole, alternatives = ''] = group;
  return alternatives
    .split(',')
    .flatMap((alternative) =>
      expandBraces(pattern.slice(0, group.index) + alternative + pattern.slice(group.index + whole.length)),
    );
}

/** Every module the config mutates, one path each, and those that keep state between calls (run with coverage all). */
async function listedModules(): Promise<{ listed: string[]; sharedState: readonly string[] }> {
  const config = (await import(pathToFileURL(join(root, 'stryker.config.mjs')).href)) as {
    mutate: readonly string[];
    sharedState: readonly string[];
  };
  const listed = config.mutate.flatMap(expandBraces);
  const wildcard = listed.find((module) => /[*?[\]!]/.test(module));
  if (wildcard !== undefined) throw new Error(`mutation/run.ts expands braces only, not ${wildcard}`);
  return { listed, sharedState: config.sharedState };
}

/**
 * The modules named on the command line, checked against the config's list (a module outside it has no own tests
 * there); undefined when none is named or every one is.
 */
function namedModules(args: readonly string[], listed: readonly string[]): string[] | undefined {
  const named = [...new Set(args.map((arg) => arg.replace(/^\.\//, '')))];
  const unknown = named.filter((module) => !listed.includes(module));
  if (unknown.length > 0) {
    throw new Error(
      `not in stryker.config.mjs's list: ${unknown.join(', ')} (it lists ${listed.join(', ')})`,
    );
  }
  return named.length === 0 || listed.every((module) => named.includes(module)) ? undefined : named.sort();
}

/**
 * Stryker over the modules, in two runs merged into one report: per-test coverage for the modules that keep no
 * state between calls, coverage 'all' for those that do (stryker.config.mjs's sharedState says why).
 */
function runStryker(
  modules: readonly string[] | undefined,
  listed: readonly string[],
  sharedState: readonly string[],
): Run {
  const loadBefore = loadavg()[0] ?? 0;
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const mutated = modules ?? listed;
  const runs = [
    { coverage: 'perTest', mutate: mutated.filter((module) => !sharedState.includes(module)) },
    { coverage: 'all', mutate: mutated.filter((module) => sharedState.includes(module)) },
  ].filter((group) => group.mutate.length > 0);
  const parts: Report[] = [];
  for (const [index, { coverage, mutate }] of runs.entries()) {
    const report = join(root, `reports/mutation/mutation-${index}.json`);
    const run = spawnSync(
      'npx',
      ['stryker', 'run', '--coverageAnalysis', coverage, '--mutate', mutate.join(',')],
      { cwd: root, stdio: 'inherit', env: { ...process.env, MUTATION_REPORT: report } },
    );
    if (run.status !== 0) throw new Error(`stryker run failed (exit ${run.status ?? run.signal})`);
    parts.push(JSON.parse(readFileSync(report, 'utf8')) as Report);
  }
  const files = Object.assign({}, ...parts.map((part) => part.files));
  writeFileSync(reportFile, JSON.stringify({ ...parts[0], files }));
  const cpuAfter = childrenCpuSeconds();
  const cpu = cpus()[0];
  const result: Run = {
    date: new Date().toISOString(),
    wallSeconds: (performance.now() - started) / 1000,
    ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { cpuSeconds: cpuAfter - cpuBefore }),
    loadBefore,
    machine: `${cpus().length} × ${cpu?.model.trim() ?? 'unknown'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    ...(modules === undefined ? {} : { modules }),
  };
  writeFileSync(runFile, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The mutated text as written in the source, white space collapsed (so a reflow does not change it). */
function originalText(source: readonly string[], { start, end }: MutantResult['location']): string {
  const lines = source.slice(start.line - 1, end.line);
  const last = lines.length - 1;
  lines[last] = lines[last]?.slice(0, end.column - 1) ?? '';
  lines[0] = lines[0]?.slice(start.column - 1) ?? '';
  return lines.join('\n').replace(/\s+/g, ' ').trim();
}

const normalized = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * This survivor's entry in a list, if it is listed: matched by file name, mutator and text (and the source line it
 * starts on, where given), not by line number.
 */
function listedIn(
  list: readonly EquivalentMutant[],
  file: string,
  mutant: MutantResult,
  original: string,
  sourceLine: string,
): EquivalentMutant | undefined {
  return list.find(
    (known) =>
      known.file === basename(file) &&
      known.mutator === mutant.mutatorName &&
      normalized(known.original) === original &&
      normalized(known.replacement) === normalized(mutant.replacement ?? '') &&
      (known.line === undefined || normalized(sourceLine).includes(normalized(known.line))),
  );
}

const UNDETECTED = new Set(['Survived', 'NoCoverage']);

interface Row {
  readonly file: string;
  readonly mutants: number;
  readonly killed: number;
  readonly timedOut: number;
  readonly survived: number;
  readonly noCoverage: number;
  readonly equivalent: number;
  readonly errors: number;
}

const sum = (rows: readonly Row[], column: Exclude<keyof Row, 'file'>) =>
  rows.reduce((total, row) => total + row[column], 0);

const score = (row: Row) => {
  const detected = row.killed + row.timedOut;
  const valid = detected + row.survived + row.noCoverage;
  return valid === 0 ? 100 : (100 * detected) / valid;
};
/** The score once the mutants judged equivalent are set aside: the share of the rest that the tests detect. */
const scoreWithoutEquivalents = (row: Row) => {
  const detected = row.killed + row.timedOut;
  const valid = detected + row.survived + row.noCoverage - row.equivalent;
  return valid === 0 ? 100 : (100 * detected) / valid;
};

const rowLine = (row: Row) =>
  `| ${row.file} | ${row.mutants} | ${row.killed} | ${row.timedOut} | ${row.survived} | ${row.noCoverage} | ${row.errors} | ${row.equivalent} | ${score(row).toFixed(1)}% | ${scoreWithoutEquivalents(row).toFixed(1)}% |`;

const TABLE_HEAD = [
  '| module | mutants | killed | timed out | survived | no coverage | errors | equivalent | score | without equivalents |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];

const cell = (text: string) =>
  `\`${text.length > 90 ? `${text.slice(0, 87)}…` : text}\``.replaceAll('|', '\\|');

function writeResults(
  report: Report,
  run: Run | undefined,
  listed: readonly string[],
): { rows: Row[]; total: Row } {
  const rows: Row[] = [];
  const equivalents: string[] = [];
  const survivors: string[] = [];
  const used = new Set<EquivalentMutant>();
  for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    const lines = source.split('\n');
    const count = (...statuses: string[]) =>
      mutants.filter((mutant) => statuses.includes(mutant.status)).length;
    let equivalent = 0;
    for (const mutant of mutants.filter((m) => UNDETECTED.has(m.status))) {
      const original = originalText(lines, mutant.location);
      const sourceLine = lines[mutant.location.start.line - 1] ?? '';
      const known = listedIn(EQUIVALENT_MUTANTS, file, mutant, original, sourceLine);
      const where = `${file}:${mutant.location.start.line}`;
      const what = `${mutant.mutatorName} ${cell(original)} → ${cell(mutant.replacement ?? '')}`;
      if (known === undefined) {
        const left = listedIn(LEFT_ALIVE, file, mutant, original, sourceLine);
        if (left !== undefined) used.add(left);
        survivors.push(`| ${where} | ${what} | ${mutant.status} | ${left?.reason ?? ''} |`);
      } else {
        equivalent += 1;
        used.add(known);
        equivalents.push(`| ${where} | ${what} | ${known.reason} |`);
      }
    }
    rows.push({
      file,
      mutants: mutants.length,
      killed: count('Killed'),
      timedOut: count('Timeout'),
      survived: count('Survived'),
      noCoverage: count('NoCoverage'),
      equivalent,
      errors: count('RuntimeError', 'CompileError'),
    });
  }
  const total: Row = {
    file: 'all',
    mutants: sum(rows, 'mutants'),
    killed: sum(rows, 'killed'),
    timedOut: sum(rows, 'timedOut'),
    survived: sum(rows, 'survived'),
    noCoverage: sum(rows, 'noCoverage'),
    equivalent: sum(rows, 'equivalent'),
    errors: sum(rows, 'errors'),
  };
  if (listed.some((module) => report.files[module] === undefined)) {
    writeModulesRunAlone(rows, survivors, run);
    return { rows, total };
  }
  const stale = [...EQUIVALENT_MUTANTS, ...LEFT_ALIVE].filter((known) => !used.has(known));
  const runLine =
    run === undefined
      ? 'Run time: not measured (results rewritten from a report without its run).'
      : `Run time: ${(run.wallSeconds / 60).toFixed(1)} min wall${
          run.cpuSeconds === undefined ? '' : `, ${(run.cpuSeconds / 60).toFixed(1)} min CPU`
        } on ${run.machine}, load ${run.loadBefore.toFixed(1)} when it started; ${run.date}.`;
  const text = [
    '# Mutation testing of the pure core',
    '',
    `Written by \`npm run mutation\` (mutation/run.ts; \`-- --report\` rewrites it from the last run's JSON report):`,
    `Stryker ${report.framework?.version ?? ''} with its jest runner; each module against its own unit tests`,
    '(test/unit/**/<module>.test.ts, those that import it): per mutant, the tests that reach it (per-test coverage),',
    'every test of those files for a static mutant (the schemas, the tables) and for a module that keeps state between',
    'calls (the access-log parser; stryker.config.mjs says why).',
    'Not in CI. Goal (#21): at least 90% on every module and on the whole set, in at most 20 minutes on two cores.',
    '',
    runLine,
    '',
    'A mutant is detected when a test fails (killed) or hangs (timed out) with it. Score: detected / (detected +',
    'survived + no coverage), as Stryker counts it; errors (a mutant the module cannot even load with) are left out.',
    'The last column sets aside the survivors judged equivalent: no test can tell them from the original.',
    '',
    ...TABLE_HEAD,
    ...rows.map(rowLine),
    rowLine(total).replace('| all |', '| **all** |'),
    '',
    `## Equivalent mutants (${total.equivalent})`,
    '',
    'Listed in mutation/equivalent-mutants.ts, each with why no test can detect it.',
    '',
    '| where | mutant | why it is equivalent |',
    '| --- | --- | --- |',
    ...equivalents,
    ...(stale.length === 0
      ? []
      : [
          '',
          `Listed but not found among this run's survivors (killed now, or their code moved): ${stale
            .map((known) => `${known.file} ${known.mutator} ${cell(known.original)}`)
            .join('; ')}.`,
        ]),
    '',
    `## Other survivors (${survivors.length})`,
    '',
    ...(survivors.length === 0
      ? ['None.']
      : [
          'Not equivalent: each is a behaviour no test checks yet. Those left on purpose say why (mutation/equivalent-mutants.ts).',
          '',
          '| where | mutant | status | why left |',
          '| --- | --- | --- | --- |',
          ...survivors,
        ]),
    '',
  ].join('\n');
  writeFileSync(join(__dirname, 'results.md'), text);
  return { rows, total };
}

const ALONE_MARK =
  '<!-- modules run alone: npm run mutation -- <module>...; the next full run removes this part -->';

/** The first cell of a table line: a module (`src/x.ts`) or a place in one (`src/x.ts:12`). */
const moduleOfLine = (line: string) => /^\| (src\/[^ |:]+)/.exec(line)?.[1];

/** Survivor lines by module, then by line number. */
const byPlace = (a: string, b: string) => {
  const place = (line: string) => /^\| (src\/[^ |:]+):(\d+)/.exec(line) ?? [];
  const [, moduleA = '', lineA = '0'] = place(a);
  const [, moduleB = '', lineB = '0'] = place(b);
  return moduleA.localeCompare(moduleB) || Number(lineA) - Number(lineB);
};

/**
 * A run of some modules only: their lines, and their survivors, replace theirs in the part of results.md for modules
 * run alone, below the last full run's report, which stays as it is.
 */
function writeModulesRunAlone(
  rows: readonly Row[],
  survivors: readonly string[],
  run: Run | undefined,
): void {
  const file = join(__dirname, 'results.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = existing.indexOf(ALONE_MARK);
  const fullRun = (at === -1 ? existing : existing.slice(0, at)).trimEnd();
  const ran = new Set(rows.map((row) => row.file));
  const earlier = (at === -1 ? [] : existing.slice(at).split('\n')).filter((line) => {
    const module = moduleOfLine(line);
    return module !== undefined && !ran.has(module);
  });
  const when =
    run === undefined
      ? 'time not measured'
      : `${run.date.slice(0, 16).replace('T', ' ')} UTC, ${(run.wallSeconds / 60).toFixed(1)} min wall`;
  const rowLines = [
    ...earlier.filter((line) => !/^\| src\/[^ |]+:\d+ /.test(line)),
    ...rows.map((row) => `${rowLine(row)} ${when} |`),
  ].sort();
  const survivorLines = [...earlier.filter((line) => /^\| src\/[^ |]+:\d+ /.test(line)), ...survivors].sort(
    byPlace,
  );
  const text = [
    fullRun,
    '',
    ALONE_MARK,
    '## Modules run alone since',
    '',
    "Each line is its module's latest run on its own (`npm run mutation -- <module>...`), newer than its line above;",
    "the table above, its equivalents and its run time are the last full run's.",
    '',
    `${TABLE_HEAD[0]} run |`,
    `${TABLE_HEAD[1]} --- |`,
    ...rowLines,
    '',
    `Their other survivors (${survivorLines.length}):`,
    '',
    ...(survivorLines.length === 0
      ? ['None.']
      : ['| where | mutant | status | why left |', '| --- | --- | --- | --- |', ...survivorLines]),
    '',
  ].join('\n');
  writeFileSync(file, text);
}

async function main() {
  const args = process.argv.slice(2);
  const reportOnly = args.includes('--report');
  const { listed, sharedState } = await listedModules();
  const modules = namedModules(
    args.filter((arg) => !arg.startsWith('--')),
    listed,
  );
  const run = reportOnly
    ? existsSync(runFile)
      ? (JSON.parse(readFileSync(runFile, 'utf8')) as Run)
      : undefined
    : runStryker(modules, listed, sharedState);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
  const { rows, total } = writeResults(report, run, listed);
  for (const row of [...rows, total]) console.log(`${score(row).toFixed(1).padStart(6)}%  ${row.file}`);
  console.log('written: mutation/results.md');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
