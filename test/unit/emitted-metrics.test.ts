import { Console } from 'node:console';
import { PassThrough } from 'node:stream';
import { captureEmittedMetrics, summarizeMetrics } from '../../local/emitted-metrics';
import { PowertoolsMetricsSink } from '../../src/metrics';

describe("the sandbox's summary of emitted metrics", () => {
  // As in Lambda and `npm start`: Powertools writes to process.stdout itself (not jest's console) out of dev mode.
  const saved = { ...process.env };
  beforeAll(() => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    delete process.env.POWERTOOLS_DEV;
  });
  afterAll(() => {
    process.env = saved;
  });

  it('keeps the documents a flush writes to stdout and lets every other line through', () => {
    const passed: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      passed.push(String(chunk));
      return true;
    });
    const emitted = captureEmittedMetrics();
    try {
      const sink = new PowertoolsMetricsSink('worker-fleet-local');
      sink.add('WorkersLaunched', 4, { fleet: 'batch', market: 'spot' });
      sink.add('IdleTerminated', 2, { fleet: 'batch' });
      sink.flush();
      process.stdout.write('a story line\n');
    } finally {
      emitted.stop();
      write.mockRestore();
    }

    expect(emitted.documents).toHaveLength(2);
    expect(passed).toEqual(['a story line\n']);
  });

  it('sums counts over invocations, keeps the last gauge, and reads as the main job expects', () => {
    const document = (values: Record<string, unknown>, market?: string) => ({
      _aws: { CloudWatchMetrics: [{ Metrics: Object.keys(values).map((Name) => ({ Name })) }] },
      service: 'worker-fleet-local',
      fleet: 'batch',
      ...(market === undefined ? {} : { market }),
      ...values,
    });

    const rows = summarizeMetrics([
      document({ WorkersLaunched: 4, WorkersRunning: 0 }),
      document({ WorkersLaunched: 1, WorkersRunning: 3, ReplacementLatency: [800, 1200] }),
      document({ WorkersLaunched: 5 }, 'spot'),
    ]);

    expect(rows).toEqual([
      { fleet: 'batch', market: '', metric: 'WorkersRunning', unit: 'Count', value: 3 },
      { fleet: 'batch', market: '', metric: 'WorkersLaunched', unit: 'Count', value: 5 },
      { fleet: 'batch', market: 'spot', metric: 'WorkersLaunched', unit: 'Count', value: 5 },
      {
        fleet: 'batch',
        market: '',
        metric: 'ReplacementLatency',
        unit: 'Milliseconds',
        value: '2 samples, max 1200',
      },
    ]);
    const out = new PassThrough();
    new Console(out).table(rows);
    expect(String(out.read())).toMatch(/'batch' +│ +'' +│ +'WorkersLaunched' +│ +'Count' +│ +5 +│/);
  });
});
