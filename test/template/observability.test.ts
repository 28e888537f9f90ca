import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FLEET_METRICS, type FleetMetricName, METRIC_NAMESPACE } from '../../src/model/fleet-metrics';
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
  // And the workers it retires through the graceful path, or an operator drains (`drained`), and the changes AWS
  // scheduled whose retirement it begins.
  ReapIdleWorkersRole: ['idle-warning', 'idle-terminated', 'idle-dry-run', 'drained', 'scheduled-change'],
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

/** A metric as the dashboard or an alarm asks for it: its namespace, name, dimension names and values given. */
interface UsedMetric {
  readonly where: string;
  readonly namespace: string;
  readonly name: string;
  /** The dimension set (a SEARCH's schema, a query's SCHEMA), sorted. */
  readonly dimensions: readonly string[];
  /** The dimension values it is limited to. */
  readonly filters: Readonly<Record<string, string>>;
}

/** What a dashboard SEARCH expression asks: `SEARCH('{Namespace,dim,...} MetricName="X" dim="v"', 'Stat', 60)`. */
function searched(where: string, expression: string): UsedMetric {
  const match = /^SEARCH\('\{([^}]+)\} (.+)', '(\w+)', 60\)$/.exec(expression);
  if (match === null) throw new Error(`${where}: not a SEARCH expression: ${expression}`);
  const [namespace = '', ...dimensions] = (match[1] ?? '').split(',');
  const terms = Object.fromEntries(
    [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
  const { MetricName: name = '', ...filters } = terms;
  return { where, namespace, name, dimensions: dimensions.sort(), filters };
}

/** What an alarm's Metrics Insights query asks: `SELECT FN(X) FROM SCHEMA("Namespace", dim, ...) WHERE dim = 'v'`. */
function queried(where: string, query: string): UsedMetric {
  const match = /^SELECT (\w+)\((\w+)\) FROM SCHEMA\("(\w+)", ([\w, ]+)\)(?: WHERE (.+))?$/.exec(query);
  if (match === null) throw new Error(`${where}: not a Metrics Insights query: ${query}`);
  const filters = Object.fromEntries(
    [...(match[5] ?? '').matchAll(/(\w+) = '([^']*)'/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
  );
  return {
    where,
    namespace: match[3] ?? '',
    name: match[2] ?? '',
    dimensions: (match[4] ?? '').split(', ').sort(),
    filters,
  };
}

/** Every metric a dashboard body plots: each row is one SEARCH expression. */
function dashboardMetrics(template: Template): UsedMetric[] {
  const body = template.Resources.FleetDashboard?.Properties.DashboardBody as { 'Fn::Sub': string };
  const { widgets } = JSON.parse(body['Fn::Sub']) as {
    widgets: { properties: { title: string; metrics: { expression: string }[][] } }[];
  };
  return widgets.flatMap(({ properties }) =>
    properties.metrics.flat().map((row) => searched(properties.title, row.expression)),
  );
}

/** The alarms of the WorkerFleet metrics: those whose metrics are queries (the stack's others watch queues). */
function fleetAlarms(template: Template) {
  return Object.entries(template.Resources).filter(
    ([, resource]) =>
      resource.Type === 'AWS::CloudWatch::Alarm' &&
      ((resource.Properties.Metrics ?? []) as { Expression?: string }[]).some((query) =>
        query.Expression?.startsWith('SELECT'),
      ),
  );
}

/** Every metric an alarm of the WorkerFleet namespace watches, through its Metrics Insights query. */
function alarmMetrics(template: Template): UsedMetric[] {
  return fleetAlarms(template).flatMap(([id, { Properties }]) =>
    (Properties.Metrics as { Expression: string }[]).map((query) => queried(id, query.Expression)),
  );
}

/** What is wrong with a metric the stack uses, against the list the code emits from; undefined when nothing. */
function mismatch(metric: UsedMetric): string | undefined {
  if (metric.namespace !== METRIC_NAMESPACE) return `${metric.where}: namespace ${metric.namespace}`;
  const definition = FLEET_METRICS[metric.name as FleetMetricName];
  if (definition === undefined) return `${metric.where}: ${metric.name} is not a metric the code emits`;
  if (!definition.dimensions.some((set) => [...set].sort().join() === metric.dimensions.join()))
    return `${metric.where}: ${metric.name} by ${metric.dimensions.join('+')} is never emitted`;
  if (metric.filters.service !== SERVICE) return `${metric.where}: service ${metric.filters.service}`;
  // Every fleet, whatever the store holds: no metric is limited to one.
  if (metric.filters.fleet !== undefined) return `${metric.where}: limited to fleet ${metric.filters.fleet}`;
  if (!['spot', 'on-demand', undefined].includes(metric.filters.market))
    return `${metric.where}: market ${metric.filters.market}`;
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
    expect(used.length).toBeGreaterThan(Object.keys(FLEET_METRICS).length);
    expect(used.map(mismatch).filter((problem) => problem !== undefined)).toEqual([]);
  });

  it('emits every metric of the list from the code, and plots each one on the dashboard', () => {
    expect([...emittedBySource()].sort()).toEqual(Object.keys(FLEET_METRICS).sort());
    const plotted = new Set(dashboardMetrics(template).map((metric) => metric.name));
    expect([...plotted].sort()).toEqual(Object.keys(FLEET_METRICS).sort());
  });

  it('notices a metric the code does not emit, emits with other dimensions, or one limited to a fleet', () => {
    const base = {
      where: 'test',
      namespace: METRIC_NAMESPACE,
      name: 'WorkersRunning',
      dimensions: ['fleet', 'service'],
      filters: { service: SERVICE },
    };

    expect(mismatch(base)).toBeUndefined();
    expect(mismatch({ ...base, name: 'WorkersIdle' })).toContain('not a metric');
    expect(
      mismatch({ ...base, name: 'WorkersTarget', dimensions: ['fleet', 'market', 'service'] }),
    ).toContain('never emitted');
    expect(mismatch({ ...base, filters: { service: 'worker-fleet' } })).toContain('service');
    expect(mismatch({ ...base, filters: { service: SERVICE, fleet: 'batch' } })).toContain(
      'limited to fleet',
    );
  });

  it('covers every fleet of the store, pushed ones too: no alarm, graph or resource names a fleet', () => {
    const watching = JSON.stringify(
      Object.fromEntries(
        Object.entries(template.Resources).filter(([, resource]) =>
          resource.Type.startsWith('AWS::CloudWatch::'),
        ),
      ),
    );

    expect(FLEETS.length).toBeGreaterThan(0);
    for (const fleet of FLEETS) expect(watching).not.toMatch(new RegExp(`\\b${fleet}\\b`));
    // Each alarm is one query over the fleet and service dimensions, limited to this stage alone.
    expect(alarmMetrics(template).map(({ dimensions, filters }) => ({ dimensions, filters }))).toEqual(
      Array(5).fill({ dimensions: ['fleet', 'service'], filters: { service: SERVICE } }),
    );
  });

  it('alarms when some fleet stays below its size for the stage parameter, and when it is back, to the fleet topic', () => {
    const alarm = template.Resources.FleetBelowTargetAlarm;

    expect(alarm?.Properties).toMatchObject({
      AlarmName: `${SERVICE}-fleet-below-target`,
      Metrics: [
        {
          Expression: `SELECT MAX(WorkersShort) FROM SCHEMA("${METRIC_NAMESPACE}", fleet, service) WHERE service = '${SERVICE}'`,
          Period: 60,
          ReturnData: true,
        },
      ],
      EvaluationPeriods: 15,
      DatapointsToAlarm: 15,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: 'FleetTopic' }],
      OKActions: [{ Ref: 'FleetTopic' }],
    });
  });

  it.each([
    ['ReplacementsFailingAlarm', 'replacements-failing', 'ReplacementsFailed', 300],
    ['NotificationEventsFailingAlarm', 'notification-events-failing', 'NotificationEventsFailed', 300],
    ['StateUnreadableAlarm', 'state-unreadable', 'StateItemsUnreadable', 300],
    // Counted under fleet `none` (no fleet is known without the configuration), which the query covers too.
    ['ConfigurationUnreadableAlarm', 'configuration-unreadable', 'ConfigurationUnreadable', 60],
  ])('%s: one in its period (%s) of any fleet alarms, to the fleet topic', (id, name, metric, period) => {
    expect(template.Resources[id]?.Properties).toMatchObject({
      AlarmName: `${SERVICE}-${name}`,
      Metrics: [
        {
          Expression: `SELECT SUM(${metric}) FROM SCHEMA("${METRIC_NAMESPACE}", fleet, service) WHERE service = '${SERVICE}'`,
          Period: period,
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: 'FleetTopic' }],
    });
  });

  it('sends every alarm of the stack to the fleet topic', () => {
    const alarms = Object.entries(template.Resources).filter(
      ([, resource]) => resource.Type === 'AWS::CloudWatch::Alarm',
    );

    expect(fleetAlarms(template)).toHaveLength(5);
    expect(alarms.length).toBe(2 + 5);
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
