import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, WORKER_DRAINING } from '../events';

/** The detail of a `Worker Draining` event, for the user's own systems to checkpoint or drain work. */
export interface WorkerDraining {
  readonly instanceId: string;
  readonly fleet: string;
  readonly reason: 'spot-interruption' | 'rebalance-recommendation';
  readonly action: string;
  /** ISO time by which the worker is gone; absent for a rebalance recommendation (no deadline). */
  readonly deadline?: string;
  readonly correlationId: string;
}

/** Emits `Worker Draining` (source `worker-fleet`) on the default bus; a rejected entry is an error. */
export async function putWorkerDraining(events: EventBridgeClient, detail: WorkerDraining): Promise<void> {
  const output = await events.send(
    new PutEventsCommand({
      Entries: [
        { Source: EVENT_SOURCE, DetailType: WORKER_DRAINING, Detail: JSON.stringify(detail), Resources: [] },
      ],
    }),
  );
  if ((output.FailedEntryCount ?? 0) > 0) {
    const entry = output.Entries?.[0];
    throw new Error(`Worker Draining event rejected: ${entry?.ErrorCode} ${entry?.ErrorMessage}`);
  }
}
