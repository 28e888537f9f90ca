import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  FLEET_METRICS,
  type FleetMetricName,
  METRIC_NAMESPACE,
  NO_FLEET,
} from '../../src/model/fleet-metrics';
import { NOTIFICATION_DETAIL_TYPES, type NotificationKind } from '../../src/model/notification';
import { packagedTemplate, STAGE, type Template } from './packaged-stack';

const ROOT = join(__dirname, '..', '..');
const SERVICE = `worker-fleet-${STAGE}`;
/** The fleets the template tests package (the default fleets file). */
const FLEETS = Object.keys(parse(readFileSync(join(ROOT, 'fleets.yml'), 'utf8')) as object);

/** The notification kinds each function tells, hence the detail-types its role may put on the bus, and no other. */
const NOTIFIES: Readonly<Record<string, readonly NotificationKind[]>> = {
  LaunchWorkersRole: ['launch', 'launch-failed', 'replacement'],
  // It reconciles the fleet of an interrupted worker, as the launcher does.
  SpotInterruptionRole: [
    'spot-interruption',
    'rebalance-recommendation',
    'launch',
    'launch-failed',
    'replacement',
  ],
  // And the workers it retires through the graceful path, or an operator drains (`drained`).
  ReapIdleWorkersRole: ['idle-warning', 'idle-terminated', 'idle-dry-run', 'drained'],
  LogS3AccessRole: ['access-after-termination', 'imdsv1-credentials', 'access-denied-burst'],
};
/** Told by the CLI only (an operator's drain), with the operator's own credentials. */
const CLI_ONLY: readonly NotificationKind[] = ['drained'];

interface Statement {
  Effect: string;
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

function roleStatements(template: Template, role: string): Statement[] {
  const policies = (template.Resources[role]?.Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** A metric as the dashboard or an alarm names it: its namespace, name and dimensions. */
interface UsedMetric {
  readonly where: string;
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** Every metric a dashboard body plots: each row is [namespace, name, dim, value, ..., options?]. */
function dashboardMetrics(template: Template): UsedMetric[] {
  const body = template.Resources.FleetDashboard?.Properties.DashboardBody as { 'Fn::Sub': string };
  const { widgets } = JSON.parse(body['Fn::Sub']) as {
    widgets: { properties: { title: string; metrics: unknown[][] } }[];
  };
  return widgets.flatMap(({ properties }) =>
    properties.metrics.map((row) => {
      const [namespace, name, ...rest] = row.filter((cell): cell is string => typeof cell === 'string');
      const dimensions: Record<string, string> = {};
      for (let index = 0; index + 1 < rest.length; index += 2)
        dimensions[rest[index] ?? ''] = rest[index + 1] ?? '';
      return { where: properties.title, namespace: namespace ?? '', name: name ?? '', dimensions };
    }),
  );
}

interface AlarmMetric {
  Namespace: string;
  MetricName: string;
  Dimensions: { Name: string; Value: unknown }[];
}

/** Every metric an alarm of the WorkerFleet namespace watches, alone or in its metric math. */
function alarmMetrics(template: Template): UsedMetric[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::CloudWatch::Alarm')
    .flatMap(([id, { Properties }]) => {
      const watched = [
        ...(Properties.MetricName === undefined ? [] : [Properties as unknown as AlarmMetric]),
        ...((Properties.Metrics ?? []) as { MetricStat?: { Metric: AlarmMetric } }[]).flatMap((query) =>
          query.MetricStat === undefined ? [] : [query.MetricStat.Metric],
        ),
      ];
      return watched.map((metric) => ({
        where: id,
        namespace: metric.Namespace,
        name: metric.MetricName,
        dimensions: Object.fromEntries(metric.Dimensions.map(({ Name, Value }) => [Name, String(Value)])),
      }));
    })
    .filter((metric) => metric.namespace === METRIC_NAMESPACE);
}

/** What is wrong with a metric the stack uses, against the list the code emits from; undefined when nothing. */
function mismatch(metric: UsedMetric): string | undefined {
  const definition = FLEET_METRICS[metric.name as FleetMetricName];
  if (definition === undefined) return `${metric.where}: ${metric.name} is not a metric the code emits`;
  const names = Object.keys(metric.dimensions).sort();
  if (!definition.dimensions.some((set) => [...set].sort().join() === names.join()))
    return `${metric.where}: ${metric.name} by ${names.join('+')} is never emitted`;
  if (metric.dimensions.service !== SERVICE) return `${metric.where}: service ${metric.dimensions.service}`;
  if (![...FLEETS, NO_FLEET].includes(metric.dimensions.fleet ?? ''))
    return `${metric.where}: fleet ${metric.dimensions.fleet}`;
  if (!['spot', 'on-demand', undefined].includes(metric.dimensions.market))
    return `${metric.where}: market ${metric.dimensions.market}`;
  return undefined;
}

/** The metric names src/ hands to a metrics sink: `metrics.add('Name', ...)`. */
function emittedBySource(): Set<string> {
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.ts'),
  );
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, 'src', file), 'utf8');
    for (const match of text.matchAll(/\.add\(\s*'(\w+)'/g)) names.add(match[1] ?? '');
  }
  return names;
}

describe("the stack's alarms, dashboard and notification events", () => {
  const template = packagedTemplate();
  const used = [...dashboardMetrics(template), ...alarmMetrics(template)];

  it('plots and alarms only on metrics the code emits, by the same names and dimensions', () => {
    expect(used.length).toBeGreaterThan(FLEETS.length * 10);
    expect(used.map(mismatch).filter((problem) => problem !== undefined)).toEqual([]);
  });

  it('emits every metric of the list from the code, and plots each one on the dashboard', () => {
    expect([...emittedBySource()].sort()).toEqual(Object.keys(FLEET_METRICS).sort());
    const plotted = new Set(dashboardMetrics(template).map((metric) => metric.name));
    expect([...plotted].sort()).toEqual(Object.keys(FLEET_METRICS).sort());
  });

  it('notices a dashboard metric the code does not emit, or emits with other dimensions', () => {
    const base = { where: 'test', namespace: METRIC_NAMESPACE, name: 'WorkersRunning' };
    const fleet = FLEETS[0] ?? '';

    expect(mismatch({ ...base, dimensions: { service: SERVICE, fleet } })).toBeUndefined();
    expect(mismatch({ ...base, name: 'WorkersIdle', dimensions: { service: SERVICE, fleet } })).toContain(
      'not a metric',
    );
    expect(
      mismatch({ ...base, name: 'WorkersTarget', dimensions: { service: SERVICE, fleet, market: 'spot' } }),
    ).toContain('never emitted');
    expect(mismatch({ ...base, dimensions: { service: 'worker-fleet', fleet } })).toContain('service');
  });

  it('gives each fleet an alarm when it stays below its target for the stage parameter, to the fleet topic', () => {
    for (const fleet of FLEETS) {
      const alarm = Object.values(template.Resources).find(
        (resource) => resource.Properties.AlarmName === `${SERVICE}-${fleet}-below-target`,
      );
      expect(alarm?.Properties).toMatchObject({
        EvaluationPeriods: 15,
        DatapointsToAlarm: 15,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: 'FleetTopic' }],
      });
      expect(alarm?.Properties.Metrics).toContainEqual(
        expect.objectContaining({ Expression: 'target - running', ReturnData: true }),
      );
    }
  });

  it('gives each fleet an alarm when its replacements fail, to the fleet topic', () => {
    for (const fleet of FLEETS) {
      const alarm = Object.values(template.Resources).find(
        (resource) => resource.Properties.AlarmName === `${SERVICE}-${fleet}-replacements-failing`,
      );
      expect(alarm?.Properties).toMatchObject({
        MetricName: 'ReplacementsFailed',
        Statistic: 'Sum',
        Threshold: 1,
        AlarmActions: [{ Ref: 'FleetTopic' }],
      });
    }
  });

  it('gives each fleet an alarm when its state items do not parse, to the fleet topic', () => {
    for (const fleet of FLEETS) {
      const alarm = Object.values(template.Resources).find(
        (resource) => resource.Properties.AlarmName === `${SERVICE}-${fleet}-state-unreadable`,
      );
      expect(alarm?.Properties).toMatchObject({
        MetricName: 'StateItemsUnreadable',
        Statistic: 'Sum',
        Threshold: 1,
        AlarmActions: [{ Ref: 'FleetTopic' }],
      });
    }
  });

  it('sends every alarm of the stack to the fleet topic', () => {
    const alarms = Object.entries(template.Resources).filter(
      ([, resource]) => resource.Type === 'AWS::CloudWatch::Alarm',
    );

    expect(alarms.length).toBe(2 + 3 * FLEETS.length);
    for (const [id, alarm] of alarms) {
      expect({ id, actions: alarm.Properties.AlarmActions }).toEqual({
        id,
        actions: [{ Ref: 'FleetTopic' }],
      });
    }
  });

  it('lets each function put only its own notification kinds on the bus, as source worker-fleet', () => {
    const detailTypes = (kinds: readonly NotificationKind[]) =>
      kinds.map((kind) => NOTIFICATION_DETAIL_TYPES[kind]).sort();
    const notificationTypes = new Set<string>(Object.values(NOTIFICATION_DETAIL_TYPES));
    const condition = (statement: { Condition?: Record<string, Record<string, unknown>> }) =>
      statement.Condition?.['ForAllValues:StringEquals'];
    for (const [role, kinds] of Object.entries(NOTIFIES)) {
      const granted = roleStatements(template, role).filter(
        (statement) =>
          [statement.Action].flat().includes('events:PutEvents') &&
          [condition(statement)?.['events:detail-type'] ?? []]
            .flat()
            .some((type) => notificationTypes.has(String(type))),
      );
      for (const statement of granted)
        expect({ role, source: condition(statement)?.['events:source'] }).toEqual({
          role,
          source: ['worker-fleet'],
        });
      // Worker Draining is the interruption handler's own event (docs/interruptions.md), not a notification.
      const types = granted
        .flatMap((statement) => [condition(statement)?.['events:detail-type']].flat())
        .filter((type) => notificationTypes.has(String(type)));
      expect({ role, types: types.map(String).sort() }).toEqual({ role, types: detailTypes(kinds) });
    }
  });

  it('tells every notification kind from some function, or from the CLI', () => {
    const told = new Set([...Object.values(NOTIFIES).flat(), ...CLI_ONLY]);

    expect([...told].sort()).toEqual(Object.keys(NOTIFICATION_DETAIL_TYPES).sort());
  });
});
