import { packagedTemplate } from './packaged-stack';

interface Ingress {
  readonly IpProtocol: string;
  readonly FromPort?: number;
  readonly ToPort?: number;
  readonly CidrIp?: unknown;
  readonly CidrIpv6?: unknown;
}

const template = packagedTemplate() as ReturnType<typeof packagedTemplate> & {
  Parameters: Record<string, { Default: string; AllowedPattern: string }>;
};

describe('SSH to workers in the packaged stack', () => {
  it('opens port 22 in one security group, only when the stage names a CIDR, only from that CIDR', () => {
    const groups = Object.entries(template.Resources).filter(
      ([, resource]) => resource.Type === 'AWS::EC2::SecurityGroup',
    );
    const ingress = groups.flatMap(([, group]) => group.Properties.SecurityGroupIngress as Ingress[]);

    expect(groups.map(([logicalId, group]) => [logicalId, group.Condition])).toEqual([
      ['WorkerSshSecurityGroup', 'HasSshIngress'],
    ]);
    expect(ingress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        CidrIp: { Ref: 'SshIngressCidr' },
      }),
    ]);
    expect(ingress.some((rule) => rule.CidrIpv6 !== undefined)).toBe(false);
    expect(template.Parameters.SshIngressCidr?.Default).toBe('');
  });

  it('tells the functions of no SSH group in a stage that names no CIDR', () => {
    const launcher = template.Resources.LaunchWorkersLambdaFunction?.Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(launcher.Variables.WORKER_FLEET_SSH_SECURITY_GROUP).toBe('');
  });

  it.each(['', '203.0.113.0/24', '10.0.0.0/8', '198.51.100.7/32'])('accepts %j as the SSH CIDR', (cidr) => {
    expect(new RegExp(template.Parameters.SshIngressCidr?.AllowedPattern ?? '').test(cidr)).toBe(true);
  });

  it.each(['0.0.0.0/0', '0.0.0.0/1', '128.0.0.0/1', '10.0.0.0/7', '203.0.113.7', '::/0', '256.0.0.0/8'])(
    'never opens port 22 to %j (the world, or most of it)',
    (cidr) => {
      expect(new RegExp(template.Parameters.SshIngressCidr?.AllowedPattern ?? '').test(cidr)).toBe(false);
    },
  );
});
