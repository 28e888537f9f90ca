/** Counts AWS calls per `Service.Operation`, so each run can log (and benchmarks can check) what it spent. */
export class CallCounter {
  private readonly counts = new Map<string, number>();

  record(call: string): void {
    this.counts.set(call, (this.counts.get(call) ?? 0) + 1);
  }

  /** The counts since the last reset, as a plain object, and the total. */
  snapshot(): { total: number; calls: Record<string, number> } {
    const calls = Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
    return { total: [...this.counts.values()].reduce((sum, count) => sum + count, 0), calls };
  }

  reset(): void {
    this.counts.clear();
  }
}

interface Countable {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { clientName?: string; commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/** Makes every command the client sends count in `counter` (one count per command, retries included once). */
export function countCalls<T extends object>(client: T, counter: CallCounter): T {
  (client as unknown as Countable).middlewareStack.add(
    (next, context) => async (args) => {
      counter.record(
        `${(context.clientName ?? '').replace(/Client$/, '')}.${(context.commandName ?? '').replace(/Command$/, '')}`,
      );
      return next(args);
    },
    { step: 'initialize', name: 'workerFleetCallCounter' },
  );
  return client;
}
