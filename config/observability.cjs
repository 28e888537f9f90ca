// Serverless variable source: `${file(./config/observability.cjs)}` resolves to the CloudFormation resources that
// watch this stage's fleets: per fleet, an alarm when it stays below its target, one when its replacements fail and one when its state does not parse;
// for the deployment, one CloudWatch dashboard. Generated at package time from the same fleets the functions get
// (config/fleets.cjs) and the same metric list the functions emit (src/model/fleet-metrics.ts).
const loadFleets = require('./fleets.cjs');

/** The metric list the functions emit, src/model/fleet-metrics.ts. */
function loadMetricList() {
  return loadFleets.loadProjectModule("export * from './src/model/fleet-metrics';");
}

/** `batch-eu` → `BatchEu`: a fleet's part of a logical ID (fleet names are lower-case letters, digits, dashes). */
const logicalPart = (fleet) =>
  fleet
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

/**
 * The resources, given the fleets' names, the stage and its parameters. Pure, for the template tests to read what
 * the stack gets.
 */
function observability({ fleets, stage, belowTargetMinutes, metrics }) {
  const { METRIC_NAMESPACE, FLEET_METRICS, NO_FLEET } = metrics;
  const service = `worker-fleet-${stage}`;
  const metric = (name, fleet, market) => {
    if (FLEET_METRICS[name] === undefined) throw new Error(`no metric ${name} in src/model/fleet-metrics.ts`);
    return [
      METRIC_NAMESPACE,
      name,
      'service',
      service,
      'fleet',
      fleet,
      ...(market === undefined ? [] : ['market', market]),
    ];
  };
  const alarmMetric = (id, name, fleet, stat) => ({
    Id: id,
    ReturnData: false,
    MetricStat: {
      Metric: {
        Namespace: METRIC_NAMESPACE,
        MetricName: name,
        Dimensions: [
          { Name: 'service', Value: service },
          { Name: 'fleet', Value: fleet },
        ],
      },
      Period: 60,
      Stat: stat,
    },
  });

  const resources = {};
  for (const fleet of fleets) {
    const id = logicalPart(fleet);
    resources[`FleetBelowTargetAlarm${id}`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${fleet}-below-target`,
        AlarmDescription: `Fleet ${fleet} has had fewer workers than its target for ${belowTargetMinutes} minutes.`,
        Metrics: [
          alarmMetric('running', 'WorkersRunning', fleet, 'Minimum'),
          alarmMetric('target', 'WorkersTarget', fleet, 'Maximum'),
          {
            Id: 'short',
            Expression: 'target - running',
            Label: 'workers short of the target',
            ReturnData: true,
          },
        ],
        EvaluationPeriods: belowTargetMinutes,
        DatapointsToAlarm: belowTargetMinutes,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        // No datapoint is no reconciliation: the function failure alarm says so.
        TreatMissingData: 'missing',
        AlarmActions: [{ Ref: 'FleetTopic' }],
        OKActions: [{ Ref: 'FleetTopic' }],
      },
    };
    resources[`ReplacementsFailingAlarm${id}`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${fleet}-replacements-failing`,
        AlarmDescription: `Replacements of interrupted workers of fleet ${fleet} found no capacity.`,
        Namespace: METRIC_NAMESPACE,
        MetricName: 'ReplacementsFailed',
        Dimensions: [
          { Name: 'service', Value: service },
          { Name: 'fleet', Value: fleet },
        ],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'FleetTopic' }],
      },
    };
    resources[`StateUnreadableAlarm${id}`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${fleet}-state-unreadable`,
        AlarmDescription: `State items of fleet ${fleet} did not parse: set aside and rebuilt from EC2 (docs/reconciliation.md).`,
        Namespace: METRIC_NAMESPACE,
        MetricName: 'StateItemsUnreadable',
        Dimensions: [
          { Name: 'service', Value: service },
          { Name: 'fleet', Value: fleet },
        ],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'FleetTopic' }],
      },
    };
  }

  const widget = (title, metricRows, extra = {}) => ({
    type: 'metric',
    width: 12,
    height: 6,
    properties: {
      title,
      view: 'timeSeries',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub fills it in, not JavaScript.
      region: '${AWS::Region}',
      period: 60,
      stat: 'Sum',
      metrics: metricRows,
      ...extra,
    },
  });
  const widgets = fleets.flatMap((fleet) => [
    widget(
      `${fleet}: capacity vs target`,
      [
        [...metric('WorkersRunning', fleet), { stat: 'Minimum', label: 'running' }],
        [...metric('WorkersTarget', fleet), { stat: 'Maximum', label: 'target' }],
        // A state item that did not parse is set aside and the fleet rebuilt from EC2: rare, worth seeing.
        [
          ...metric('StateItemsUnreadable', fleet),
          { stat: 'Sum', label: 'state items unreadable (rebuilt from EC2)', yAxis: 'right' },
        ],
      ],
      { stat: 'Maximum' },
    ),
    widget(`${fleet}: spot vs on-demand`, [
      [...metric('WorkersRunning', fleet, 'spot'), { stat: 'Maximum', label: 'running spot' }],
      [...metric('WorkersRunning', fleet, 'on-demand'), { stat: 'Maximum', label: 'running on-demand' }],
      [...metric('WorkersLaunched', fleet, 'spot'), { label: 'launched spot' }],
      [...metric('WorkersLaunched', fleet, 'on-demand'), { label: 'launched on-demand' }],
      [...metric('OnDemandFallbacks', fleet), { label: 'on-demand fallbacks' }],
      [...metric('LaunchShortfall', fleet), { label: 'launch shortfall' }],
    ]),
    widget(`${fleet}: interruptions and replacements`, [
      [...metric('Interruptions', fleet), { label: 'interruptions' }],
      [...metric('RebalanceRecommendations', fleet), { label: 'rebalance recommendations' }],
      [...metric('Replacements', fleet), { label: 'replacements' }],
      [...metric('ReplacementsFailed', fleet), { label: 'replacements failed' }],
      [
        ...metric('ReplacementLatency', fleet),
        { stat: 'Maximum', label: 'warning to replacement (ms)', yAxis: 'right' },
      ],
    ]),
    widget(`${fleet}: idle reaping`, [
      [...metric('IdleMarked', fleet), { label: 'marked idle' }],
      [...metric('IdleTerminated', fleet), { label: 'terminated idle' }],
      [...metric('IdleKeptByProtection', fleet), { label: 'kept by protection' }],
      [...metric('IdleKeptByFloor', fleet), { label: 'kept by the floor' }],
      [...metric('WorkersAboveMax', fleet), { stat: 'Maximum', label: 'above maxCapacity' }],
    ]),
  ]);
  widgets.push(
    widget(
      'access alerts',
      [...fleets, NO_FLEET].map((fleet) => [...metric('AccessAlerts', fleet), { label: fleet }]),
    ),
    widget(
      'access records',
      [...fleets, NO_FLEET].map((fleet) => [...metric('AccessRecords', fleet), { label: fleet }]),
    ),
    // Read before any fleet is judged: counted under fleet `none` (the reaper logs each worker's id).
    widget('heartbeats the reaper could not read', [
      [...metric('HeartbeatsUnreadable', NO_FLEET), { label: 'unreadable (judged unknown)' }],
    ]),
  );
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
  const fleets = Object.keys(loadFleets.decodeFleetsSeed(await loadFleets({ resolveVariable })));
  const stage = await resolveVariable('sls:stage');
  const belowTargetMinutes = Number(await resolveVariable('param:fleetBelowTargetMinutes'));
  if (!Number.isInteger(belowTargetMinutes) || belowTargetMinutes < 1 || belowTargetMinutes > 1440) {
    throw new Error(
      `param fleetBelowTargetMinutes must be whole minutes from 1 to 1440, not ${belowTargetMinutes}`,
    );
  }
  return observability({ fleets, stage, belowTargetMinutes, metrics: loadMetricList() });
};
module.exports.observability = observability;
module.exports.loadMetricList = loadMetricList;
