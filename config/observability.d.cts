// Types of config/observability.cjs, for the template tests.
import type * as FleetMetrics from '../src/model/fleet-metrics';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

declare function resolve(options: {
  resolveVariable: (name: string) => Promise<unknown>;
}): Promise<{ Resources: Record<string, Resource> }>;

declare namespace resolve {
  /** The resources for this stage and alarm delay, from the metric list, for every fleet at once. Pure. */
  function observability(options: {
    stage: string;
    belowTargetMinutes: number;
    metrics: typeof FleetMetrics;
  }): { Resources: Record<string, Resource> };
  /** src/model/fleet-metrics.ts, bundled as the packaging loads it. */
  function loadMetricList(): typeof FleetMetrics;
}

export = resolve;
