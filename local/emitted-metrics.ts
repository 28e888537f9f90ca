import { FLEET_METRICS, type FleetMetricName } from '../src/model/fleet-metrics';

/** An embedded-metric document as Powertools Metrics writes it: `_aws` metadata, dimensions and values at the top. */
export interface EmfDocument {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly { readonly Metrics: readonly { readonly Name: string }[] }[];
  };
  readonly [key: string]: unknown;
}

/**
 * Keeps the embedded-metric documents the functions write to stdout (in Lambda, their log) instead of printing
 * them among the story's lines; everything else is written as usual. `stop()` puts stdout back.
 */
export function captureEmittedMetrics(stream: NodeJS.WriteStream = process.stdout) {
  const documents: EmfDocument[] = [];
  const write = stream.write.bind(stream);
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"_aws"')) {
      for (const line of chunk.split('\n').filter((text) => text.trim() !== '')) {
        documents.push(JSON.parse(line) as EmfDocument);
      }
      const callback = rest.find((argument) => typeof argument === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
  return {
    documents,
    stop: () => {
      stream.write = write;
    },
  };
}

/** One row of the summary: a metric of a fleet (and market), as CloudWatch would show it over the story. */
export interface EmittedMetric {
  readonly fleet: string;
  readonly market: string;
  readonly metric: string;
  readonly unit: string;
  /** Summed counts, the last gauge, or the samples' count and largest value. */
  readonly value: number | string;
}

/** What the documents say, per fleet, market and metric, in the list's order. */
export function summarizeMetrics(documents: readonly EmfDocument[]): EmittedMetric[] {
  const values = new Map<
    string,
    { fleet: string; market: string; metric: FleetMetricName; samples: number[] }
  >();
  for (const document of documents) {
    const fleet = String(document.fleet);
    const market = typeof document.market === 'string' ? document.market : '';
    for (const { Name } of document._aws.CloudWatchMetrics.flatMap((directive) => directive.Metrics)) {
      if (!(Name in FLEET_METRICS)) continue;
      const key = JSON.stringify([fleet, market, Name]);
      const entry = values.get(key) ?? { fleet, market, metric: Name as FleetMetricName, samples: [] };
      entry.samples.push(...[document[Name]].flat().map(Number));
      values.set(key, entry);
    }
  }
  const order = Object.keys(FLEET_METRICS);
  return [...values.values()]
    .sort(
      (a, b) =>
        a.fleet.localeCompare(b.fleet) ||
        order.indexOf(a.metric) - order.indexOf(b.metric) ||
        a.market.localeCompare(b.market),
    )
    .map(({ fleet, market, metric, samples }) => {
      const { unit, aggregation } = FLEET_METRICS[metric];
      const value =
        aggregation === 'sum'
          ? samples.reduce((sum, sample) => sum + sample, 0)
          : aggregation === 'last'
            ? (samples.at(-1) ?? 0)
            : `${samples.length} samples, max ${Math.max(...samples)}`;
      return { fleet, market, metric, unit, value };
    });
}
