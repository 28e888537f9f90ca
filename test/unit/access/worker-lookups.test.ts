import { WORKER_LOOKUP_TTL_MS, WorkerLookups } from '../../../src/access/attribution';
import type { Worker } from '../../../src/model/worker';

const worker = { instanceId: 'i-0aaa0aaa0aaa0aaa0' } as Worker;

describe('WorkerLookups', () => {
  it('answers a key from its lookup until the lookup is a minute old, then looks again', async () => {
    let clock = 0;
    const lookups = new WorkerLookups(() => clock);
    const look = jest.fn(async () => worker);

    await lookups.get('instance i-0aaa0aaa0aaa0aaa0', look);
    clock = WORKER_LOOKUP_TTL_MS - 1;
    await lookups.get('instance i-0aaa0aaa0aaa0aaa0', look);
    expect(look).toHaveBeenCalledTimes(1);
    clock = WORKER_LOOKUP_TTL_MS;
    await lookups.get('instance i-0aaa0aaa0aaa0aaa0', look);

    expect(look).toHaveBeenCalledTimes(2);
  });

  it('keeps an address no worker has, so a stranger writing fast is not looked up each time', async () => {
    const lookups = new WorkerLookups(() => 0);
    const look = jest.fn(async () => undefined);

    for (let access = 0; access < 5; access += 1) await lookups.get('address 203.0.113.9', look);

    expect(look).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failed lookup: the next access asks again', async () => {
    const lookups = new WorkerLookups(() => 0);
    const look = jest
      .fn<Promise<Worker | undefined>, []>()
      .mockRejectedValueOnce(Object.assign(new Error('slow down'), { name: 'RequestLimitExceeded' }))
      .mockResolvedValueOnce(worker);

    await expect(lookups.get('address 10.0.1.25', look)).rejects.toThrow('slow down');
    await expect(lookups.get('address 10.0.1.25', look)).resolves.toBe(worker);
    expect(look).toHaveBeenCalledTimes(2);
  });
});
