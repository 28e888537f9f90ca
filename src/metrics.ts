import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  FLEET_METRICS,
  type FleetMetricName,
  METRIC_NAMESPACE,
  type MetricDimensions,
  type MetricsSink,
} from './model/fleet-metrics';

/** What one invocation gathered for one dimension set. */
interface Gathered {
  readonly dimensions: MetricDimensions;
  readonly values: Map<FleetMetricName, number[]>;
}

/**
 * The functions' metrics sink over Powertools Metrics. Values are gathered during the invocation and written by
 * `flush()`, once, at its end: one embedded-metric document per dimension set (a fleet, a fleet and a market), since
 * EMF gives every metric of a document the same dimensions.
 */
export class PowertoolsMetricsSink implements MetricsSink {
  readonly #metrics: Metrics;
  readonly #gathered = new Map<string, Gathered>();

  /** `service`: the deployment (`worker-fleet-<stage>`), the dimension that keeps stages apart. */
  constructor(service: string) {
    this.#metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: service });
  }

  add(name: FleetMetricName, value: number, dimensions: MetricDimensions): void {
    const definition = FLEET_METRICS[name];
    this.#gather(name, value, dimensions);
    // A summed value given with its market counts toward the fleet's total too.
    if (dimensions.market !== undefined && definition.aggregation === 'sum') {
      this.#gather(name, value, { fleet: dimensions.fleet });
    }
  }

  #gather(name: FleetMetricName, value: number, dimensions: MetricDimensions): void {
    const key = JSON.stringify([dimensions.fleet, dimensions.market ?? null]);
    const gathered = this.#gathered.get(key) ?? { dimensions, values: new Map<FleetMetricName, number[]>() };
    this.#gathered.set(key, gathered);
    const values = gathered.values.get(name) ?? [];
    switch (FLEET_METRICS[name].aggregation) {
      case 'sum':
        gathered.values.set(name, [(values[0] ?? 0) + value]);
        break;
      case 'last':
        gathered.values.set(name, [value]);
        break;
      case 'samples':
        gathered.values.set(name, [...values, value]);
        break;
    }
  }

  /** Writes what the invocation gathered (nothing when it gathered nothing) and starts afresh. */
  flush(): void {
    try {
      for (const { dimensions, values } of this.#gathered.values()) {
        this.#metrics.addDimension('fleet', dimensions.fleet);
        if (dimensions.market !== undefined) this.#metrics.addDimension('market', dimensions.market);
        for (const [name, samples] of values) {
          for (const sample of samples) this.#metrics.addMetric(name, FLEET_METRICS[name].unit, sample);
        }
        this.#metrics.publishStoredMetrics();
      }
    } finally {
      this.#gathered.clear();
    }
  }
}
