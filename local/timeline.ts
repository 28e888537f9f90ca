/**
 * What the sandbox prints while it runs: progress lines for the set-up, and one timeline line per step that changed
 * something (time, step, what changed, instance ids). A step without its effect stops the run with StepFailed.
 */
export class StepFailed extends Error {
  override name = 'StepFailed';
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new StepFailed(message);
}

export interface TimelineEntry {
  readonly at: Date;
  readonly step: string;
  readonly change: string;
  readonly instanceIds: readonly string[];
}

const clock = (at: Date) => at.toISOString().slice(11, 19);

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly started = Date.now();

  constructor(private readonly print: (line: string) => void = console.log) {}

  private elapsed(): string {
    return `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(5)}s]`;
  }

  /** A set-up line: not part of the fleet's story. */
  progress(what: string, detail = ''): void {
    this.print(`${this.elapsed()} ${what}${detail === '' ? '' : `: ${detail}`}`);
  }

  /** One thing that happened to the fleet. */
  record(step: string, change: string, instanceIds: readonly string[] = []): void {
    const entry = { at: new Date(), step, change, instanceIds };
    this.entries.push(entry);
    const ids = instanceIds.length === 0 ? '' : `  [${instanceIds.join(' ')}]`;
    this.print(`${this.elapsed()} ${clock(entry.at)}  ${step.padEnd(24)} ${change}${ids}`);
  }
}
