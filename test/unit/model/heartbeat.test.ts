import { heartbeatInstance, heartbeatKey } from '../../../src/model/heartbeat';

const ROLE_ID = 'AROAEXAMPLEWORKER0001';

describe('heartbeatInstance', () => {
  it("reads the instance of this worker role's heartbeat key", () => {
    expect(heartbeatInstance(heartbeatKey(ROLE_ID, 'i-0123456789abcdef0'), ROLE_ID)).toBe(
      'i-0123456789abcdef0',
    );
  });

  it.each([
    ['an older agent’s key without the role id', 'heartbeats/i-0123456789abcdef0'],
    ['another role’s session', 'heartbeats/AROAOTHERROLE00000001:i-0123456789abcdef0'],
    ['a role id that only starts like this one', `heartbeats/${ROLE_ID}X:i-0123456789abcdef0`],
    ['a session that is not an instance', `heartbeats/${ROLE_ID}:botocore-session-1`],
    ['a key under the session', `heartbeats/${ROLE_ID}:i-0123456789abcdef0/more`],
    ['a notice', `notices/${ROLE_ID}:i-0123456789abcdef0/spot`],
  ])('says nothing of %s', (_name, key) => {
    expect(heartbeatInstance(key, ROLE_ID)).toBeUndefined();
  });
});
