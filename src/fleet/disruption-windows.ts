import { CronExpressionParser } from 'cron-parser';
import type { FleetSpec } from '../model/fleet-spec';

type Windows = NonNullable<NonNullable<FleetSpec['disruption']>['windows']>;

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
      // The last start at or before now: a window that starts this very millisecond is open.
      const start = CronExpressionParser.parse(cron, { currentDate: new Date(now.getTime() + 1), tz: 'UTC' })
        .prev()
        .toDate();
      return now.getTime() < start.getTime() + durationMinutes * 60_000;
    } catch {
      refused.push(cron);
      return false;
    }
  });
  return { open, refused };
}
