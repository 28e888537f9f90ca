import { runCli } from '../../src/cli/main';

/** Runs one CLI command line in-process against stage `test`: its exit code, and what it printed to each stream. */
export async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--stage', 'test', ...args], {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
