import {
  CloudWatchClient,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import { fetchWorkerMetrics } from '../../../src/aws/metrics';

const NOW = new Date('2026-06-01T12:00:00Z');
const at = (minute: number) => new Date(NOW.getTime() - (15 - minute) * 60_000);

/**
 * A real CloudWatch client whose GetMetricData answers come from `answer`, without the network: each request is
 * recorded, and the answer stands in for the service's.
 */
function cloudwatchAnswering(answer: (input: GetMetricDataCommandInput, call: number) => object) {
  const client = new CloudWatchClient({ region: 'us-east-1' });
  const requests: GetMetricDataCommandInput[] = [];
  client.middlewareStack.add(
    () => async (args) => {
      const input = structuredClone(args.input as GetMetricDataCommandInput);
      requests.push(input);
      const output = answer(input, requests.length) as Partial<GetMetricDataCommandOutput>;
      return { output: { $metadata: {}, ...output }, response: {} };
    },
    { step: 'initialize', name: 'answerFromTest' },
  );
  return { client, requests };
}

describe('fetchWorkerMetrics', () => {
  it("follows NextToken to the last page and joins each worker's datapoints, oldest first", async () => {
    const { client, requests } = cloudwatchAnswering((input) =>
      input.NextToken === undefined
        ? {
            MetricDataResults: [
              { Id: 'w0cpuavg', Values: [1, 2], Timestamps: [at(1), at(2)] },
              { Id: 'w0netin', Values: [100], Timestamps: [at(1)] },
            ],
            NextToken: 'page-2',
          }
        : {
            MetricDataResults: [
              { Id: 'w0cpuavg', Values: [3], Timestamps: [at(3)] },
              { Id: 'w0cpumax', Values: [9], Timestamps: [at(3)] },
              { Id: 'w0netout', Values: [50, 7], Timestamps: [at(1), at(2)] },
            ],
          },
    );

    const metrics = await fetchWorkerMetrics(client, ['i-1'], 15, NOW);

    expect(requests.map(({ NextToken }) => NextToken)).toEqual([undefined, 'page-2']);
    expect(metrics.get('i-1')).toEqual({ cpuAverage: [1, 2, 3], cpuMaximum: [9], networkBytes: [150, 7] });
  });

  it('asks for at most 500 queries a call, over the window ending now', async () => {
    const { client, requests } = cloudwatchAnswering(() => ({ MetricDataResults: [] }));
    const workers = Array.from({ length: 126 }, (_, index) => `i-${index}`);

    const metrics = await fetchWorkerMetrics(client, workers, 15, NOW);

    expect(requests.map(({ MetricDataQueries }) => MetricDataQueries?.length)).toEqual([500, 4]);
    expect(requests[0]).toMatchObject({ StartTime: at(0), EndTime: NOW, ScanBy: 'TimestampAscending' });
    expect(metrics.get('i-125')).toEqual({ cpuAverage: [], cpuMaximum: [], networkBytes: [] });
  });

  it('rejects when CloudWatch does', async () => {
    const { client } = cloudwatchAnswering(() => {
      throw Object.assign(new Error('rate exceeded'), { name: 'Throttling' });
    });

    await expect(fetchWorkerMetrics(client, ['i-1'], 15, NOW)).rejects.toMatchObject({ name: 'Throttling' });
  });
});
