import { CronExpressionParser } from 'cron-parser';
import type { FleetSpec } from '../model/fleet-spec';

type Windows = NonNullable<NonNullable<FleetSpec['disruption']>['windows']>;

/** The last time a window's cron expression fires at or before `now`, in UTC; throws when the parser refuses it. */
function lastStart(cron: string, now: Date): Date {
  // At or before: a window that starts this very millisecond is open.
  return CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1), tz: 'UTC' })
    .prev()
    .toDate();
}

/**
 * Whether planned disruption may start now: no windows configured, or `now` is inside one (its cron expression's
 * last time at or before now, in UTC, plus its duration). An expression the parser refuses opens nothing (and is
 * named in `refused`): never a retirement on a guess. Pure.
 */
export function disruptionWindowOpen(
  windows: Windows | undefined,
  now: Date,
): { readonly open: boolean; readonly refused: readonly string[] } {
  if (windows === undefined) return { open: true, refused: [] };
  const refused: string[] = [];
  const open = windows.some(({ cron, durationMinutes }) => {
    try {
      return now.getTime() < lastStart(cron, now).getTime() + durationMinutes * 60_000;
    } catch {
      refused.push(cron);
      return false;
    }
  });
  return { open, refused };
}

/**
 * Every disruption window whose cron expression the parser refuses (`61 * * * *`, `0 0 30 2 *`), with its path in
 * the fleets document and the parser's reason: what `config validate`, `config push` and a deploy refuse. The schema
 * checks only an expression's shape, so that the functions that never judge windows do not load the parser. Pure.
 */
export function refusedWindows(
  specs: Readonly<Record<string, Pick<FleetSpec, 'disruption'>>>,
): { readonly path: (string | number)[]; readonly message: string }[] {
  return Object.entries(specs).flatMap(([fleet, spec]) =>
    (spec.disruption?.windows ?? []).flatMap(({ cron }, index) => {
      try {
        lastStart(cron, new Date());
        return [];
      } catch (error) {
        return [
          {
            path: [fleet, 'disruption', 'windows', index, 'cron'],
            message: `not a cron expression the reaper can read: ${(error as Error).message}`,
          },
        ];
      }
    }),
  );
}
