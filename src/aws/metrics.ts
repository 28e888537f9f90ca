import {
  type CloudWatchClient,
  type MetricDataQuery,
  paginateGetMetricData,
} from '@aws-sdk/client-cloudwatch';

/** GetMetricData's largest batch. Four queries per worker: 125 workers per call. */
const MAX_QUERIES = 500;
/** One datapoint a minute where detailed monitoring is on, one per five minutes otherwise. */
const PERIOD_SECONDS = 60;

export interface WorkerMetrics {
  readonly cpuAverage: number[];
  readonly cpuMaximum: number[];
  readonly networkBytes: number[];
}

const SERIES = [
  { suffix: 'cpuavg', metric: 'CPUUtilization', stat: 'Average' },
  { suffix: 'cpumax', metric: 'CPUUtilization', stat: 'Maximum' },
  { suffix: 'netin', metric: 'NetworkIn', stat: 'Sum' },
  { suffix: 'netout', metric: 'NetworkOut', stat: 'Sum' },
] as const;

/** CPU and network datapoints of each worker over the window ending now, oldest first; no data is an empty list. */
export async function fetchWorkerMetrics(
  cloudwatch: CloudWatchClient,
  instanceIds: readonly string[],
  windowMinutes: number,
  now: Date,
): Promise<Map<string, WorkerMetrics>> {
  const metrics = new Map<string, WorkerMetrics>();
  const byQueryId = new Map<string, { instanceId: string; suffix: (typeof SERIES)[number]['suffix'] }>();
  const queries: MetricDataQuery[] = [];
  instanceIds.forEach((instanceId, index) => {
    metrics.set(instanceId, { cpuAverage: [], cpuMaximum: [], networkBytes: [] });
    for (const series of SERIES) {
      const id = `w${index}${series.suffix}`;
      byQueryId.set(id, { instanceId, suffix: series.suffix });
      queries.push({
        Id: id,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/EC2',
            MetricName: series.metric,
            Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
          },
          Period: PERIOD_SECONDS,
          Stat: series.stat,
        },
      });
    }
  });
  const network = new Map<string, Map<number, number>>();
  for (let start = 0; start < queries.length; start += MAX_QUERIES) {
    const pages = paginateGetMetricData(
      { client: cloudwatch },
      {
        MetricDataQueries: queries.slice(start, start + MAX_QUERIES),
        StartTime: new Date(now.getTime() - windowMinutes * 60_000),
        EndTime: now,
        ScanBy: 'TimestampAscending',
      },
    );
    for await (const output of pages) {
      for (const result of output.MetricDataResults ?? []) {
        const query = byQueryId.get(result.Id ?? '');
        const worker = query === undefined ? undefined : metrics.get(query.instanceId);
        if (query === undefined || worker === undefined) continue;
        const values = result.Values ?? [];
        if (query.suffix === 'cpuavg') worker.cpuAverage.push(...values);
        else if (query.suffix === 'cpumax') worker.cpuMaximum.push(...values);
        else {
          const perPeriod = network.get(query.instanceId) ?? new Map<number, number>();
          (result.Timestamps ?? []).forEach((timestamp, index) => {
            const at = timestamp.getTime();
            perPeriod.set(at, (perPeriod.get(at) ?? 0) + (values[index] ?? 0));
          });
          network.set(query.instanceId, perPeriod);
        }
      }
    }
  }
  for (const [instanceId, perPeriod] of network) {
    const worker = metrics.get(instanceId);
    const ordered = [...perPeriod].sort(([a], [b]) => a - b).map(([, bytes]) => bytes);
    worker?.networkBytes.push(...ordered);
  }
  return metrics;
}
