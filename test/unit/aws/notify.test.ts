import { MAX_MESSAGE_BYTES, messageBody } from '../../../src/aws/notify';

describe('messageBody', () => {
  it('keeps a small notification whole', () => {
    const body = { kind: 'launch', fleet: 'batch', launched: [{ instanceId: 'i-1' }] };

    expect(JSON.parse(messageBody(body))).toEqual(body);
  });

  it('fits thousands of workers within the SNS limit, saying how many there were', () => {
    const marked = Array.from({ length: 10_000 }, (_, index) => ({
      instanceId: `i-${index.toString(16).padStart(17, '0')}`,
      explanation: 'idle: heartbeat reports idle 1m ago, cpu 1.2% < 5%',
    }));

    const text = messageBody({ kind: 'idle-warning', fleet: 'batch', marked, terminateAfterMinutes: 10 });

    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const parsed = JSON.parse(text);
    expect(parsed).toMatchObject({
      truncated: true,
      markedCount: 10_000,
      kind: 'idle-warning',
      terminateAfterMinutes: 10,
    });
    expect(parsed.marked.length).toBeGreaterThan(0);
    expect(parsed.marked[0]).toEqual(marked[0]);
  });
});
