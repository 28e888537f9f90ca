import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLaunchTrigger } from '../../src/events/launch';
import { parseReapRequest } from '../../src/events/reap';

/** Issue 17's fault matrix, the rows that need no emulator: one test per row, named by the row. */

const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '../../events', name), 'utf8'));

describe('Events as AWS sends them', () => {
  it('F19: a Scheduler schedule without input (source aws.scheduler, detail "{}") is a scheduled run for launch and reap', () => {
    const event = sample('scheduler-schedule.json');

    expect(event).toMatchObject({ source: 'aws.scheduler', detail: '{}' });
    expect(parseLaunchTrigger(event, 'lambda-request-1')).toEqual({
      kind: 'schedule',
      id: '3f0c8a52-6d1e-4b7a-9c2f-2a5e8d7b1c40',
    });
    expect(parseReapRequest(event)).toEqual({});
  });
});
