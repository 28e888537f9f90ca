import { disruptionWindowOpen, refusedWindows } from '../../../src/fleet/disruption-windows';

const at = (iso: string) => new Date(iso);
const nightly = [{ cron: '0 2 * * *', durationMinutes: 60 }];

describe('disruptionWindowOpen', () => {
  it('is open at any time without windows', () => {
    expect(disruptionWindowOpen(undefined, at('2026-12-05T12:00:00Z'))).toEqual({ open: true, refused: [] });
  });

  it('is open from a window start, in UTC, for its duration, and closed outside', () => {
    const openAt = (iso: string) => disruptionWindowOpen(nightly, at(iso)).open;

    expect(openAt('2026-12-05T02:00:00Z')).toBe(true);
    expect(openAt('2026-12-05T02:59:59Z')).toBe(true);
    expect(openAt('2026-12-05T03:00:00Z')).toBe(false);
    expect(openAt('2026-12-05T01:59:59Z')).toBe(false);
  });

  it('is open when any window is', () => {
    const two = [...nightly, { cron: '30 14 * * 1-5', durationMinutes: 30 }];

    expect(disruptionWindowOpen(two, at('2026-12-07T14:45:00Z')).open).toBe(true); // a Monday
    expect(disruptionWindowOpen(two, at('2026-12-06T14:45:00Z')).open).toBe(false); // a Sunday
  });

  it('opens nothing for an expression the parser refuses, and names it', () => {
    expect(
      disruptionWindowOpen([{ cron: '0 25 * * *', durationMinutes: 60 }], at('2026-12-05T02:30:00Z')),
    ).toEqual({
      open: false,
      refused: ['0 25 * * *'],
    });
  });
});

describe('refusedWindows', () => {
  it("names each window whose expression the parser refuses, by its path, with the parser's reason", () => {
    const nightly = { cron: '0 2 * * MON-FRI', durationMinutes: 60 };
    expect(
      refusedWindows({
        batch: { disruption: { windows: [nightly, { cron: '61 * * * *', durationMinutes: 60 }] } },
        gpu: { disruption: { windows: [{ cron: '0 0 30 2 *', durationMinutes: 60 }] } },
        plain: {},
      }),
    ).toEqual([
      {
        path: ['batch', 'disruption', 'windows', 1, 'cron'],
        message: expect.stringMatching(/^not a cron expression the reaper can read: .*61/),
      },
      {
        path: ['gpu', 'disruption', 'windows', 0, 'cron'],
        message: expect.stringMatching(/^not a cron expression the reaper can read: /),
      },
    ]);
    expect(refusedWindows({ batch: { disruption: { windows: [nightly] } } })).toEqual([]);
  });
});
