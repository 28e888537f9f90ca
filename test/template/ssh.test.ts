import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerless } from '../../local/serverless-cli';
import { packagedTemplate, STAGE } from './packaged-stack';

interface Ingress {
  readonly IpProtocol: string;
  readonly FromPort?: number;
  readonly ToPort?: number;
  readonly CidrIp?: unknown;
  readonly CidrIpv6?: unknown;
}

const template = packagedTemplate() as ReturnType<typeof packagedTemplate> & {
  Parameters: Record<string, { Default: string; AllowedPattern: string; AllowedValues?: string[] }>;
  Conditions: Record<string, unknown>;
  Outputs: Record<string, { Condition?: string; Description: string; Value: unknown }>;
};

// What the functions' WORKER_FLEET_SSH_KEY_PAIR holds for a stage's sshCreateKeyPair, as serverless.yml resolves it.
const sshKeyPairVariable = createRequire(__filename)('../../config/ssh-key-pair.cjs') as (source: {
  resolveVariable: (name: string) => Promise<unknown>;
}) => Promise<unknown>;

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

  it('creates a key pair only when the stage sets sshCreateKeyPair to "true", ed25519, its private key left to EC2', () => {
    const keyPairs = Object.entries(template.Resources).filter(
      ([, resource]) => resource.Type === 'AWS::EC2::KeyPair',
    );

    expect(keyPairs.map(([logicalId, keyPair]) => [logicalId, keyPair.Condition])).toEqual([
      ['WorkerSshKeyPair', 'CreatesSshKeyPair'],
    ]);
    expect(template.Conditions.CreatesSshKeyPair).toEqual({
      'Fn::Equals': [{ Ref: 'SshCreateKeyPair' }, 'true'],
    });
    expect(template.Parameters.SshCreateKeyPair).toMatchObject({
      Default: 'false',
      AllowedValues: ['true', 'false'],
    });
    // No PublicKeyMaterial: EC2 generates the key and CloudFormation keeps the private half in Parameter Store.
    expect(keyPairs[0]?.[1].Properties).toEqual({
      KeyName: `worker-fleet-${STAGE}`,
      KeyType: 'ed25519',
      KeyFormat: 'pem',
    });
  });

  it('says where the created key pair’s private key is: Parameter Store, /ec2/keypair/<key-pair-id>', () => {
    expect(template.Outputs.WorkerSshKeyPairId).toEqual({
      Condition: 'CreatesSshKeyPair',
      Description: expect.stringContaining(
        'aws ssm get-parameter --name /ec2/keypair/<this id> --with-decryption',
      ),
      Value: { 'Fn::GetAtt': ['WorkerSshKeyPair', 'KeyPairId'] },
    });
  });

  it('tells the functions the created key pair’s name only in a stage that creates it', async () => {
    const launcher = template.Resources.LaunchWorkersLambdaFunction?.Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    const resolvedFor = (value: string) => sshKeyPairVariable({ resolveVariable: async () => value });

    expect(launcher.Variables.WORKER_FLEET_SSH_KEY_PAIR).toBe('');
    expect(await resolvedFor('true')).toEqual({ Ref: 'WorkerSshKeyPair' });
    expect(await resolvedFor('false')).toBe('');
  });

  it('tells every function the SSH group’s id in a stage that names a CIDR and a VPC', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-ssh-'));
    try {
      const run = await runServerless(undefined, [
        'package',
        '--stage',
        STAGE,
        '--package',
        dir,
        '--param=sshIngressCidr=203.0.113.0/24',
        '--param=sshVpcId=vpc-0123456789abcdef0',
      ]);
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
      const withSsh = JSON.parse(
        readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
      ) as typeof template;
      const functions = Object.entries(withSsh.Resources).filter(
        ([, resource]) => resource.Type === 'AWS::Lambda::Function',
      );

      expect(functions.length).toBeGreaterThanOrEqual(4);
      for (const [id, resource] of functions) {
        const { Variables } = resource.Properties.Environment as { Variables: Record<string, unknown> };
        expect({ id, group: Variables.WORKER_FLEET_SSH_SECURITY_GROUP }).toEqual({
          id,
          group: { Ref: 'WorkerSshSecurityGroup' },
        });
      }
      // The group the Ref names exists in that stage: its condition holds with the stage's CIDR and VPC.
      expect(withSsh.Resources.WorkerSshSecurityGroup?.Condition).toBe('HasSshIngress');
      expect(withSsh.Parameters.SshIngressCidr?.Default).toBe('203.0.113.0/24');
      expect(withSsh.Parameters.SshVpcId?.Default).toBe('vpc-0123456789abcdef0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
