// Serverless variable source: `${file(./config/observability.cjs)}` resolves to the CloudFormation resources that
// watch this stage's fleets, every fleet of its configuration store, those pushed after the deploy included: five
// alarms, each one CloudWatch Metrics Insights query over every fleet of the stage (a fleet below its target, its
// replacements failing, its notifications' events not put, its state not parsing, a container without a readable
// configuration), and one dashboard whose every graph is a SEARCH with a line per
// fleet. Nothing here names a fleet, so neither the fleets file nor a push changes them; only the metric list does
// (src/model/fleet-metrics.ts, the list the functions emit). docs/observability.md.
const { loadProjectModule } = require('./fleets.cjs');

/** The metric list the functions emit, src/model/fleet-metrics.ts. */
function loadMetricList() {
  return loadProjectModule("export * from './src/model/fleet-metrics';");
}

/**
 * The resources, given the stage and its parameters. Pure, for the template tests to read what the stack gets.
 */
function observability({ stage, belowTargetMinutes, metrics }) {
  const { METRIC_NAMESPACE, FLEET_METRICS } = metrics;
  const service = `worker-fleet-${stage}`;
  const known = (name) => {
    if (FLEET_METRICS[name] === undefined) throw new Error(`no metric ${name} in src/model/fleet-metrics.ts`);
    return name;
  };
  /** One value per period over every fleet of the stage: Metrics Insights, by `fleet` and `service` only. */
  const everyFleet = (fn, name) =>
    `SELECT ${fn}(${known(name)}) FROM SCHEMA("${METRIC_NAMESPACE}", fleet, service) WHERE service = '${service}'`;
  const alarm = (name, description, query, settings) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${service}-${name}`,
      AlarmDescription: `${description} Which fleet: the dashboard ${service}, or worker-fleet status.`,
      Metrics: [{ Id: 'fleets', Expression: query, Period: settings.period, ReturnData: true }],
      EvaluationPeriods: settings.periods,
      DatapointsToAlarm: settings.periods,
      Threshold: settings.threshold,
      ComparisonOperator: settings.comparison,
      TreatMissingData: settings.missing,
      AlarmActions: [{ Ref: 'FleetTopic' }],
      ...(settings.ok ? { OKActions: [{ Ref: 'FleetTopic' }] } : {}),
    },
  });
  const resources = {
    FleetBelowTargetAlarm: alarm(
      'fleet-below-target',
      `A fleet has had fewer workers than its size for ${belowTargetMinutes} minutes.`,
      everyFleet('MAX', 'WorkersShort'),
      {
        period: 60,
        periods: belowTargetMinutes,
        threshold: 0,
        comparison: 'GreaterThanThreshold',
        // No datapoint is no reconciliation: the function failure alarm says so.
        missing: 'missing',
        ok: true,
      },
    ),
    ReplacementsFailingAlarm: alarm(
      'replacements-failing',
      'Replacements of interrupted workers found no capacity.',
      everyFleet('SUM', 'ReplacementsFailed'),
      {
        period: 300,
        periods: 1,
        threshold: 1,
        comparison: 'GreaterThanOrEqualToThreshold',
        missing: 'notBreaching',
      },
    ),
    NotificationEventsFailingAlarm: alarm(
      'notification-events-failing',
      "A notification could not be put on the bus after the SDK's retries; the delivery's retry puts it (docs/observability.md).",
      everyFleet('SUM', 'NotificationEventsFailed'),
      {
        period: 300,
        periods: 1,
        threshold: 1,
        comparison: 'GreaterThanOrEqualToThreshold',
        missing: 'notBreaching',
      },
    ),
    // No fleet is known without the configuration: counted under fleet `none`, which the query covers too.
    ConfigurationUnreadableAlarm: alarm(
      'configuration-unreadable',
      'A function container met an event without a readable fleet configuration: warnings are notified and marked, everything else fails until it is fixed (docs/interruptions.md).',
      everyFleet('SUM', 'ConfigurationUnreadable'),
      {
        period: 60,
        periods: 1,
        threshold: 1,
        comparison: 'GreaterThanOrEqualToThreshold',
        missing: 'notBreaching',
      },
    ),
    StateUnreadableAlarm: alarm(
      'state-unreadable',
      'State items of a fleet did not parse: set aside and rebuilt from EC2 (docs/reconciliation.md).',
      everyFleet('SUM', 'StateItemsUnreadable'),
      {
        period: 300,
        periods: 1,
        threshold: 1,
        comparison: 'GreaterThanOrEqualToThreshold',
        missing: 'notBreaching',
      },
    ),
  };

  /** A line per fleet (and market, for a metric with that dimension set), whatever fleets the store holds. */
  const search = (name, stat, market) =>
    market === undefined
      ? `SEARCH('{${METRIC_NAMESPACE},fleet,service} MetricName="${name}" service="${service}"', '${stat}', 60)`
      : `SEARCH('{${METRIC_NAMESPACE},fleet,market,service} MetricName="${name}" service="${service}" market="${market}"', '${stat}', 60)`;
  const widgets = Object.entries(FLEET_METRICS).map(([name, definition], index) => {
    const stat = definition.aggregation === 'sum' ? 'Sum' : 'Maximum';
    const byMarket = definition.dimensions.some((set) => set.includes('market'));
    const rows = [
      [{ id: `m${index}`, expression: search(name, stat), label: '' }],
      ...(byMarket
        ? ['spot', 'on-demand'].map((market) => [
            {
              id: `m${index}${market.replace('-', '')}`,
              expression: search(name, stat, market),
              label: market,
            },
          ])
        : []),
    ];
    return {
      type: 'metric',
      width: 12,
      height: 6,
      properties: {
        title: `${name} (${stat.toLowerCase()}${definition.unit === 'Count' ? '' : `, ${definition.unit.toLowerCase()}`}): ${definition.description}`,
        view: 'timeSeries',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub fills it in, not JavaScript.
        region: '${AWS::Region}',
        period: 60,
        stat,
        metrics: rows,
      },
    };
  });
  resources.FleetDashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: service,
      DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets }) },
    },
  };
  return { Resources: resources };
}

module.exports = async ({ resolveVariable }) => {
  const stage = await resolveVariable('sls:stage');
  const belowTargetMinutes = Number(await resolveVariable('param:fleetBelowTargetMinutes'));
  if (!Number.isInteger(belowTargetMinutes) || belowTargetMinutes < 1 || belowTargetMinutes > 1440) {
    throw new Error(
      `param fleetBelowTargetMinutes must be whole minutes from 1 to 1440, not ${belowTargetMinutes}`,
    );
  }
  return observability({ stage, belowTargetMinutes, metrics: loadMetricList() });
};
module.exports.observability = observability;
module.exports.loadMetricList = loadMetricList;
