import { PowertoolsMetricsSink } from '../../src/metrics';
import { FLEET_METRICS, METRIC_NAMESPACE } from '../../src/model/fleet-metrics';

interface EmfDocument {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** The EMF documents a sink writes at its flush (Powertools writes to console.log in dev mode). */
function flushed(sink: PowertoolsMetricsSink): EmfDocument[] {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    sink.flush();
    return log.mock.calls.map(([line]) => JSON.parse(String(line)) as EmfDocument);
  } finally {
    log.mockRestore();
  }
}

describe('the Powertools metrics sink', () => {
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  beforeAll(() => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  });
  afterAll(() => {
    if (disabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = disabled;
  });

  it('writes one document per dimension set at its flush, with the deployment as service', () => {
    const sink = new PowertoolsMetricsSink('worker-fleet-test');
    sink.add('WorkersLaunched', 2, { fleet: 'batch', market: 'spot' });
    sink.add('WorkersLaunched', 1, { fleet: 'batch', market: 'on-demand' });
    sink.add('OnDemandFallbacks', 1, { fleet: 'batch' });
    sink.add('IdleMarked', 3, { fleet: 'web' });

    const documents = flushed(sink);

    const find = (fleet: string, market?: string) =>
      documents.find((document) => document.fleet === fleet && document.market === market);
    expect(documents).toHaveLength(4);
    expect(find('batch')).toMatchObject({
      service: 'worker-fleet-test',
      WorkersLaunched: 3,
      OnDemandFallbacks: 1,
    });
    expect(find('batch', 'spot')).toMatchObject({ WorkersLaunched: 2 });
    expect(find('batch', 'on-demand')).toMatchObject({ WorkersLaunched: 1 });
    expect(find('web')).toMatchObject({ IdleMarked: 3 });
    const spot = find('batch', 'spot')?._aws.CloudWatchMetrics[0];
    expect(spot?.Namespace).toBe(METRIC_NAMESPACE);
    expect(spot?.Dimensions).toEqual([['service', 'fleet', 'market']]);
    expect(spot?.Metrics).toEqual([{ Name: 'WorkersLaunched', Unit: 'Count' }]);
  });

  it('sums counts, keeps the last gauge and every latency sample', () => {
    const sink = new PowertoolsMetricsSink('worker-fleet-test');
    sink.add('Interruptions', 1, { fleet: 'batch' });
    sink.add('Interruptions', 1, { fleet: 'batch' });
    sink.add('WorkersRunning', 4, { fleet: 'batch' });
    sink.add('WorkersRunning', 5, { fleet: 'batch' });
    sink.add('ReplacementLatency', 1200, { fleet: 'batch' });
    sink.add('ReplacementLatency', 800, { fleet: 'batch' });

    const [document] = flushed(sink);

    expect(document).toMatchObject({ Interruptions: 2, WorkersRunning: 5, ReplacementLatency: [1200, 800] });
    expect(document?._aws.CloudWatchMetrics[0]?.Metrics).toContainEqual({
      Name: 'ReplacementLatency',
      Unit: FLEET_METRICS.ReplacementLatency.unit,
    });
  });

  it('writes nothing when the invocation measured nothing, and starts afresh after a flush', () => {
    const sink = new PowertoolsMetricsSink('worker-fleet-test');
    sink.add('AccessRecords', 1, { fleet: 'none' });
    expect(flushed(sink)).toHaveLength(1);

    expect(flushed(sink)).toEqual([]);
  });
});
