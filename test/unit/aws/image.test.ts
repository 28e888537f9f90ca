import type { SSMClient } from '@aws-sdk/client-ssm';
import { IMAGE_PARAMETER_MAX_AGE_MS, resolveImageId } from '../../../src/aws/image';
import { ConfigError } from '../../../src/errors';

/** An SSM client that answers GetParameter with the values given, in turn, and counts the calls. */
function ssmAnswering(...values: string[]) {
  const send = jest.fn(async () => ({ Parameter: { Value: values.shift() ?? '' } }));
  return { ssm: { send } as unknown as SSMClient, send };
}

describe('resolveImageId', () => {
  it('uses an AMI id as it is, asking nothing', async () => {
    const { ssm, send } = ssmAnswering();
    expect(await resolveImageId(ssm, 'ami-0123456789abcdef0')).toBe('ami-0123456789abcdef0');
    expect(send).not.toHaveBeenCalled();
  });

  it('reads a parameter again once its value is 15 minutes old, not before', async () => {
    const name = '/test/image/refresh';
    const { ssm, send } = ssmAnswering('ami-0aaaaaaaaaaaaaaaa', 'ami-0bbbbbbbbbbbbbbbb');
    const start = new Date('2026-12-05T10:00:00Z');
    const at = (ms: number) => new Date(start.getTime() + ms);

    expect(await resolveImageId(ssm, name, start)).toBe('ami-0aaaaaaaaaaaaaaaa');
    expect(await resolveImageId(ssm, name, at(IMAGE_PARAMETER_MAX_AGE_MS - 1))).toBe('ami-0aaaaaaaaaaaaaaaa');
    expect(send).toHaveBeenCalledTimes(1);
    expect(await resolveImageId(ssm, name, at(IMAGE_PARAMETER_MAX_AGE_MS))).toBe('ami-0bbbbbbbbbbbbbbbb');
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('refuses a parameter that holds no AMI id, naming it', async () => {
    const { ssm } = ssmAnswering('not-an-ami');
    await expect(resolveImageId(ssm, '/test/image/bad')).rejects.toThrow(ConfigError);
  });
});
