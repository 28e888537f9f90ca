import { packagedTemplate, type Template } from './packaged-stack';

interface Statement {
  readonly Action: string | readonly string[];
  readonly Resource: unknown;
}

function roleStatements(template: Template, role: string): Statement[] {
  const policies = (template.Resources[role]?.Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** The actions a role has on the fleet configuration store's object (or on a wildcard that covers it). */
const onFleetConfig = (template: Template, role: string) =>
  roleStatements(template, role)
    .filter((statement) =>
      /StateBucket\.Arn}\/(config\/fleets\.json|\*)"/.test(JSON.stringify(statement.Resource)),
    )
    .flatMap((statement) => [statement.Action].flat())
    .sort();

/** Lambda's limit on a function's environment: every variable's name and value, in all. */
const LAMBDA_ENVIRONMENT_BYTES = 4096;

describe('the fleet configuration store in the packaged stack', () => {
  const template = packagedTemplate();

  it('lets the functions that act on fleets read the stored configuration, and none of them write it', () => {
    expect({
      launchWorkers: onFleetConfig(template, 'LaunchWorkersRole'),
      handleSpotInterruption: onFleetConfig(template, 'SpotInterruptionRole'),
      reapIdleWorkers: onFleetConfig(template, 'ReapIdleWorkersRole'),
      logS3Access: onFleetConfig(template, 'LogS3AccessRole'),
    }).toEqual({
      launchWorkers: ['s3:GetObject'],
      handleSpotInterruption: ['s3:GetObject'],
      reapIdleWorkers: ['s3:GetObject'],
      logS3Access: [],
    });
  });

  it('keeps the fleets out of the functions’ environment, which stays far below Lambda’s 4 KB', () => {
    const functions = Object.values(template.Resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(variables)).not.toContain('WORKER_FLEET_FLEETS');
      const bytes = Object.entries(variables).reduce(
        (sum, [name, value]) => sum + name.length + JSON.stringify(value).length,
        0,
      );
      expect(bytes).toBeLessThan(LAMBDA_ENVIRONMENT_BYTES / 4);
    }
  });
});
