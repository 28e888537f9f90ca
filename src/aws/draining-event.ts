import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, WORKER_DRAINING, type WorkerDraining } from '../model/notification';

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
