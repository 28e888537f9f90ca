import { parseArgs } from 'node:util';
import type { CommandOptions } from './command';
import { UsageError } from './usage-error';

/**
 * The edit distance between two words: insertions, deletions, substitutions and swaps of two neighbouring letters,
 * one each (the optimal string alignment distance), so `--froce` is one from `--force`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i += 1) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j += 1) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/**
 * The valid option nearest to one given: the one it begins (`--dry` for `--dry-run`), else the closest within two
 * edits and fewer edits than the given name has letters; undefined when nothing is that near.
 */
export function nearestOption(given: string, names: readonly string[]): string | undefined {
  const begun = names.filter((name) => given.length >= 2 && name.startsWith(given));
  if (begun.length === 1) return begun[0];
  let nearest: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(given, name);
    if (
      distance <= 2 &&
      distance < given.length &&
      distance < (nearest?.distance ?? Number.POSITIVE_INFINITY)
    ) {
      nearest = { name, distance };
    }
  }
  return nearest?.name;
}

/**
 * Checks a command line's options against those of its command (the common ones included) before Node's parser
 * does, so that a wrong one is refused naming the command, the option and the nearest valid one. `command` is the
 * command word, or undefined before one was given.
 */
export function checkOptions(
  command: string | undefined,
  argv: readonly string[],
  options: CommandOptions,
): void {
  const { tokens } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: false,
    tokens: true,
    options,
  });
  const label = command ?? 'worker-fleet';
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) {
      const near = nearestOption(token.name, Object.keys(options));
      throw new UsageError(
        `${label} has no option ${token.rawName}${near === undefined ? '' : `; did you mean --${near}?`}`,
      );
    }
    // A value that looks like an option (`--fleet --json`) is one forgotten: `--fleet=-x` gives it on purpose.
    const missing = token.value === undefined || (token.inlineValue === false && token.value.startsWith('-'));
    if (option.type === 'string' && missing) {
      throw new UsageError(`${label}: --${token.name} needs a value (--${token.name} <${token.name}>)`);
    }
    if (option.type === 'boolean' && token.inlineValue === true) {
      throw new UsageError(`${label}: --${token.name} takes no value`);
    }
  }
}
