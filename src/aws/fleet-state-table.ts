import { createHash, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  type ClaimProgress,
  type FactChange,
  FenceLostError,
  type FleetFacts,
  type FleetState,
  type LaunchIntent,
  type LeaseAttempt,
  type PoolEventRecord,
  type RegisteredWorker,
  type ReplacementFact,
  type RetirementFact,
  SCHEMA_VERSION,
  type ScheduledChange,
  type SizeRequest,
} from '../model/fleet-state';

/**
 * The control plane's state in one DynamoDB table per deployment (`pk`, `sk`; TTL on `expiresAt`, epoch seconds).
 * A fleet's facts share its partition, so a pass reads them in one strongly consistent Query:
 *
 *   fleet#<name>   lease#reconcile | lease#reap | size | request#<id> | replacement#<instance> | intent#<slot>
 *                  | scheduled#<instance>#<event hash> | image
 *                  | retirement#<instance>
 *   worker#<id>    registry | claim#warning | claim#rebalance
 *   pools          <kind>#<placement>#<id>          deployment   sequence
 *
 * DynamoDB's TTL sweep lags (up to days), so an item past its `expiresAt` is read as absent.
 */

const DAY_S = 24 * 60 * 60;
/** Request ids are remembered this long: far beyond any trigger's retries (Lambda's, EventBridge's 24 h). */
const REQUEST_MEMORY_S = 14 * DAY_S;
const REPLACEMENT_MEMORY_S = 7 * DAY_S;
const INTENT_MEMORY_S = 2 * DAY_S;
/** A retirement outlives any drain grace and replacement wait; a lost one is rebuilt from the worker's drain tag. */
const RETIREMENT_MEMORY_S = 2 * DAY_S;
const CLAIM_MEMORY_S = DAY_S;
/** A registry record outlives most workers; one that expires only sends its warning through EC2 first. */
const REGISTRY_MEMORY_S = 90 * DAY_S;
const POOL_EVENT_MEMORY_S = 7 * DAY_S;
/** A scheduled change is remembered this long past its start (or its recording, if later): its worker is gone. */
const SCHEDULED_CHANGE_MEMORY_S = 14 * DAY_S;
/** TransactWriteItems takes 100 actions: the lease's check and 99 changes. */
const CHANGES_PER_TRANSACTION = 99;
/** Each lost attempt means another caller took or gave back the lease: progress, not a livelock. */
const LEASE_ATTEMPTS = 50;

const fleetKey = (fleet: string) => `fleet#${fleet}`;
/** A scheduled change's key: its instance, and a hash of its event's id (a Health event's ARN can be long). */
const scheduledKey = (change: ScheduledChange) =>
  `scheduled#${change.instanceId}#${createHash('sha256').update(change.eventId).digest('hex').slice(0, 32)}`;
const workerKey = (instanceId: string) => `worker#${instanceId}`;
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const expiry = (at: Date | string, memory: number) => seconds(new Date(at)) + memory;

const isNamed = (error: unknown, name: string) => error instanceof Error && error.name === name;

const count = () => z.number().int().min(0);
const versioned = { v: z.literal(SCHEMA_VERSION) };
const poolRef = z.object({ instanceType: z.string(), subnetId: z.string() });
const requestItem = z.object({
  ...versioned,
  id: z.string(),
  kind: z.enum(['schedule', 'event', 'direct', 'reap']),
  target: count().optional(),
  count: count().optional(),
  shrink: count().optional(),
  floor: count().optional(),
  at: z.string(),
  eventTime: z.string().optional(),
  applied: z.boolean().optional(),
});
const sizeItem = z.object({
  ...versioned,
  desired: count(),
  desiredBy: z.object({ id: z.string(), kind: requestItem.shape.kind }).optional(),
  targetAt: z.string().optional(),
  target: z.number().int().min(0).optional(),
});
const retirementReason = z.enum([
  'idle',
  'max-lifetime',
  'operator-drain',
  'replaced-early',
  'orphan',
  'above-max',
  'scheduled-change',
  'ami-drift',
  'rebuilt',
]);
const replacementItem = z.object({
  ...versioned,
  instanceId: z.string(),
  cause: z.enum(['spot-interruption', 'rebalance-recommendation', 'missed-warning', 'retirement']),
  correlationId: z.string(),
  pool: poolRef,
  at: z.string(),
  status: z.enum(['pending', 'launched', 'notified']),
  instanceIds: z.array(z.string()).optional(),
  launchedAt: z.string().optional(),
  tellingEpoch: z.number().optional(),
  published: z.boolean().optional(),
  toldNoCapacity: z.boolean().optional(),
  reason: retirementReason.optional(),
});

const retirementItem = z.object({
  ...versioned,
  instanceId: z.string(),
  reason: retirementReason,
  replaceFirst: z.boolean(),
  requestedAt: z.string(),
  drainRequestedAt: z.string().optional(),
  deadline: z.string().optional(),
  correlationId: z.string().optional(),
  pool: poolRef.optional(),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
});
const intentItem = z.object({
  ...versioned,
  slot: z.string(),
  count: z.number().int().min(1),
  // One id until 0.2 (a launch replaced one worker); a list since replacements of one pool launch together.
  replaces: z.union([z.string().transform((id) => [id]), z.array(z.string()).min(1)]).optional(),
  subnetId: z.string().optional(),
  avoid: z.array(z.string()),
  attempt: z
    .object({
      clientToken: z.string(),
      pool: poolRef.extend({ market: z.enum(['spot', 'on-demand']) }),
      input: z.string(),
    })
    .optional(),
  status: z.enum(['open', 'answered', 'short']),
  instanceIds: z.array(z.string()).optional(),
  answeredAt: z.string().optional(),
  told: z.boolean().optional(),
  at: z.string(),
});
const scheduledChangeItem = z.object({
  ...versioned,
  instanceId: z.string(),
  source: z.enum(['health', 'instance-status']),
  eventId: z.string(),
  code: z.string(),
  startsAt: z.string(),
  description: z.string().optional(),
  closed: z.boolean().optional(),
  at: z.string(),
});
const imageItem = z.object({ ...versioned, ami: z.string(), imageId: z.string(), at: z.string() });
const leaseItem = z.object({ holder: z.string().optional(), until: z.number(), epoch: z.number() });
const claimItem = z.object({
  state: z.enum(['working', 'open', 'done']),
  at: z.number(),
  notified: z.boolean().optional(),
  copied: z.boolean().optional(),
  tagged: z.boolean().optional(),
  announced: z.boolean().optional(),
  counted: z.boolean().optional(),
});
const registryItem = z.object({
  ...versioned,
  instanceId: z.string(),
  fleet: z.string(),
  instanceType: z.string(),
  availabilityZone: z.string(),
  subnetId: z.string(),
  market: z.string(),
  launchedAt: z.string(),
});
const poolEventItem = z.object({
  ...versioned,
  pool: poolRef,
  kind: z.enum(['interruption', 'rebalance', 'capacity-error']),
  id: z.string(),
  at: z.string(),
});

/** An item's own fields, without the table's keys and bookkeeping. */
function fieldsOf<T extends object>(item: T): Omit<T, 'v' | 'pk' | 'sk' | 'expiresAt'> {
  const { v: _v, pk: _pk, sk: _sk, expiresAt: _expiresAt, ...rest } = item as T & Record<string, unknown>;
  return rest as Omit<T, 'v' | 'pk' | 'sk' | 'expiresAt'>;
}

/** An item as stored: its keys, the schema version, its fields (undefined ones dropped) and its expiry. */
function stored(pk: string, sk: string, value: object, expiresAt?: number): Record<string, unknown> {
  return { pk, sk, v: SCHEMA_VERSION, ...defined(value), ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/** Drops undefined fields: the document client refuses them. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

const retirementStored = (fleet: string, fact: RetirementFact) =>
  stored(
    fleetKey(fleet),
    `retirement#${fact.instanceId}`,
    fact,
    expiry(fact.requestedAt, RETIREMENT_MEMORY_S),
  );

const progressOf = (claim: Partial<ClaimProgress> | undefined): ClaimProgress => ({
  notified: claim?.notified === true,
  copied: claim?.copied === true,
  tagged: claim?.tagged === true,
  announced: claim?.announced === true,
  counted: claim?.counted === true,
});

/** The state in a DynamoDB table (see the layout above). */
export function createFleetStateTable(dynamodb: DynamoDBClient, table: string): FleetState {
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const send = documents.send.bind(documents) as DynamoDBDocumentClient['send'];

  /**
   * Writes the item unless one with its key is there (or `condition` refuses it): false when it did not write. An
   * item past its expiry, which DynamoDB's sweep may keep for days, is absent, as every read takes it.
   */
  async function putIfAbsent(
    item: Record<string, unknown>,
    condition = 'attribute_not_exists(pk)',
  ): Promise<boolean> {
    try {
      await send(
        new PutCommand({
          TableName: table,
          Item: item,
          ConditionExpression: `(${condition}) OR expiresAt <= :nowS`,
          ExpressionAttributeValues: { ':nowS': seconds(new Date()) },
        }),
      );
      return true;
    } catch (error) {
      if (isNamed(error, 'ConditionalCheckFailedException')) return false;
      throw error;
    }
  }

  /** The write a change makes, keyed by the item it touches. */
  function changeItem(fleet: string, change: FactChange, now: Date) {
    const pk = fleetKey(fleet);
    switch (change.kind) {
      case 'size':
        return { Put: { TableName: table, Item: stored(pk, 'size', change.size) } };
      case 'applied':
        return {
          Update: {
            TableName: table,
            Key: { pk, sk: `request#${change.requestId}` },
            UpdateExpression: 'SET applied = :true, expiresAt = :expires',
            ExpressionAttributeValues: { ':true': true, ':expires': expiry(now, REQUEST_MEMORY_S) },
          },
        };
      case 'replacement':
        return {
          Put: {
            TableName: table,
            Item: stored(
              pk,
              `replacement#${change.fact.instanceId}`,
              change.fact,
              change.fact.status === 'notified'
                ? expiry(now, DAY_S)
                : expiry(change.fact.at, REPLACEMENT_MEMORY_S),
            ),
          },
        };
      case 'intent':
        return {
          Put: {
            TableName: table,
            Item: stored(
              pk,
              `intent#${change.intent.slot}`,
              change.intent,
              expiry(change.intent.at, INTENT_MEMORY_S),
            ),
          },
        };
      case 'intent-done':
        return { Delete: { TableName: table, Key: { pk, sk: `intent#${change.slot}` } } };
      case 'set-aside':
        return { Delete: { TableName: table, Key: { pk, sk: change.key } } };
      case 'image':
        return { Put: { TableName: table, Item: stored(pk, 'image', change.image) } };
      case 'retirement':
        return {
          Put: {
            TableName: table,
            Item: retirementStored(fleet, change.fact),
          },
        };
      case 'retirement-done':
        return { Delete: { TableName: table, Key: { pk, sk: `retirement#${change.instanceId}` } } };
    }
  }

  const state: FleetState = {
    async addRequest(fleet, request) {
      return putIfAbsent(
        stored(fleetKey(fleet), `request#${request.id}`, request, expiry(request.at, REQUEST_MEMORY_S)),
      );
    },

    async addReplacement(fleet, fact) {
      return putIfAbsent(
        stored(
          fleetKey(fleet),
          `replacement#${fact.instanceId}`,
          fact,
          expiry(fact.at, REPLACEMENT_MEMORY_S),
        ),
      );
    },

    async addScheduledChange(fleet, change) {
      const later = Math.max(Date.parse(change.startsAt), Date.parse(change.at));
      const item = stored(
        fleetKey(fleet),
        scheduledKey(change),
        change,
        expiry(new Date(Number.isFinite(later) ? later : Date.now()), SCHEDULED_CHANGE_MEMORY_S),
      );
      // A closing change replaces an open one; nothing replaces a closed one.
      return putIfAbsent(
        item,
        change.closed ? 'attribute_not_exists(pk) OR attribute_not_exists(closed)' : undefined,
      );
    },

    async addRetirement(fleet, fact) {
      return putIfAbsent(retirementStored(fleet, fact));
    },

    async readFacts(fleet, now) {
      const items: Record<string, unknown>[] = [];
      let start: QueryCommandOutput['LastEvaluatedKey'];
      do {
        const page = await send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': fleetKey(fleet) },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        items.push(...((page.Items ?? []) as Record<string, unknown>[]));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return factsOf(items, now);
    },

    async takeLease(fleet, name, request) {
      const { holder, now, ttlMs, handOff } = request;
      const Key = { pk: fleetKey(fleet), sk: `lease#${name}` };
      for (let attempt = 0; attempt < LEASE_ATTEMPTS; attempt += 1) {
        let current: Record<string, unknown> | undefined;
        try {
          const taken = await send(
            new UpdateCommand({
              TableName: table,
              Key,
              UpdateExpression: 'SET holder = :holder, #until = :until, pending = :false ADD epoch :one',
              ConditionExpression: 'attribute_not_exists(holder) OR #until <= :now',
              ExpressionAttributeNames: { '#until': 'until' },
              ExpressionAttributeValues: {
                ':holder': holder,
                ':until': now.getTime() + ttlMs,
                ':false': false,
                ':one': 1,
                ':now': now.getTime(),
              },
              ReturnValues: 'ALL_NEW',
            }),
          );
          const epoch = Number(taken.Attributes?.epoch);
          return {
            kind: 'held',
            lease: { fleet, name, holder, epoch, ttlMs, clockOffsetMs: now.getTime() - Date.now() },
          };
        } catch (error) {
          if (isNamed(error, 'ValidationException')) {
            await repairLease(Key, now);
            continue;
          }
          if (!isNamed(error, 'ConditionalCheckFailedException')) throw error;
          current = await itemOf(Key);
        }
        const lease = leaseItem.safeParse(current);
        if (!lease.success) {
          await repairLease(Key, now);
          continue;
        }
        const other = lease.data.holder ?? '';
        if (!handOff) return { kind: 'busy', holder: other };
        try {
          await send(
            new UpdateCommand({
              TableName: table,
              Key,
              UpdateExpression: 'SET pending = :true',
              ConditionExpression: 'holder = :other AND #until > :now',
              ExpressionAttributeNames: { '#until': 'until' },
              ExpressionAttributeValues: { ':true': true, ':other': other, ':now': now.getTime() },
            }),
          );
          return { kind: 'handed-off', holder: other } satisfies LeaseAttempt;
        } catch (error) {
          if (!isNamed(error, 'ConditionalCheckFailedException')) throw error;
          // Released or expired in between: take it.
        }
      }
      throw new Error(`lease ${name} of fleet ${fleet}: ${LEASE_ATTEMPTS} attempts lost in a row`);
    },

    async releaseLease(lease, renewal) {
      const Key = { pk: fleetKey(lease.fleet), sk: `lease#${lease.name}` };
      const mine = { ':holder': lease.holder, ':epoch': lease.epoch };
      const release = (condition: string) =>
        send(
          new UpdateCommand({
            TableName: table,
            Key,
            UpdateExpression: 'REMOVE holder SET #until = :zero',
            ConditionExpression: condition,
            ExpressionAttributeNames: { '#until': 'until' },
            ExpressionAttributeValues: {
              ...mine,
              ':zero': 0,
              ...(renewal.keepPending ? {} : { ':true': true }),
            },
          }),
        );
      try {
        await release(
          renewal.keepPending
            ? 'holder = :holder AND epoch = :epoch'
            : 'holder = :holder AND epoch = :epoch AND pending <> :true',
        );
        return 'released';
      } catch (error) {
        if (!isNamed(error, 'ConditionalCheckFailedException')) throw error;
        const current = await itemOf(Key);
        if (current?.holder !== lease.holder || current?.epoch !== lease.epoch) return 'lost';
      }
      try {
        await send(
          new UpdateCommand({
            TableName: table,
            Key,
            UpdateExpression: 'SET #until = :until, pending = :false',
            ConditionExpression: 'holder = :holder AND epoch = :epoch',
            ExpressionAttributeNames: { '#until': 'until' },
            ExpressionAttributeValues: {
              ...mine,
              ':until': renewal.now.getTime() + renewal.ttlMs,
              ':false': false,
            },
          }),
        );
        return 'again';
      } catch (error) {
        if (isNamed(error, 'ConditionalCheckFailedException')) return 'lost';
        throw error;
      }
    },

    async commit(lease, changes) {
      const now = new Date();
      // One action per item: the last change of an item wins.
      const byItem = new Map<string, ReturnType<typeof changeItem>>();
      for (const change of changes) {
        const action = changeItem(lease.fleet, change, now);
        const key = action.Put?.Item.sk ?? action.Update?.Key.sk ?? action.Delete?.Key.sk;
        byItem.set(String(key), action);
      }
      const actions = [...byItem.values()];
      // No change is still a check of the fence: what a holder asks before a side effect that records nothing.
      for (let start = 0; start === 0 || start < actions.length; start += CHANGES_PER_TRANSACTION) {
        const input: TransactWriteCommandInput = {
          TransactItems: [
            {
              // The fence, which also renews the lease: a holder at work keeps it, one taken over records nothing.
              Update: {
                TableName: table,
                Key: { pk: fleetKey(lease.fleet), sk: `lease#${lease.name}` },
                UpdateExpression: 'SET #until = :until',
                ConditionExpression: 'holder = :holder AND epoch = :epoch',
                ExpressionAttributeNames: { '#until': 'until' },
                ExpressionAttributeValues: {
                  ':holder': lease.holder,
                  ':epoch': lease.epoch,
                  ':until': Date.now() + lease.clockOffsetMs + lease.ttlMs,
                },
              },
            },
            ...(actions.slice(start, start + CHANGES_PER_TRANSACTION) as NonNullable<
              TransactWriteCommandInput['TransactItems']
            >),
          ],
        };
        try {
          await send(new TransactWriteCommand(input));
        } catch (error) {
          const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
          if (
            isNamed(error, 'TransactionCanceledException') &&
            reasons?.[0]?.Code === 'ConditionalCheckFailed'
          ) {
            throw new FenceLostError(
              `fleet ${lease.fleet}: the ${lease.name} lease of epoch ${lease.epoch} was taken over; nothing recorded`,
            );
          }
          throw error;
        }
      }
    },

    async nextTokens(amount) {
      const Key = { pk: 'deployment', sk: 'sequence' };
      const take = () =>
        send(
          new UpdateCommand({
            TableName: table,
            Key,
            UpdateExpression: 'ADD #next :amount SET generation = if_not_exists(generation, :generation)',
            ExpressionAttributeNames: { '#next': 'next' },
            ExpressionAttributeValues: { ':amount': amount, ':generation': randomUUID() },
            ReturnValues: 'ALL_NEW',
          }),
        );
      let output: Awaited<ReturnType<typeof take>>;
      try {
        output = await take();
      } catch (error) {
        if (!isNamed(error, 'ValidationException')) throw error;
        // A sequence item that is not a number: replaced by a new generation, so no token can repeat an old one.
        await send(
          new PutCommand({
            TableName: table,
            Item: { ...Key, next: Date.now(), generation: randomUUID() },
            ConditionExpression: 'NOT attribute_type(#next, :number)',
            ExpressionAttributeNames: { '#next': 'next' },
            ExpressionAttributeValues: { ':number': 'N' },
          }),
        ).catch((failure: unknown) => {
          if (!isNamed(failure, 'ConditionalCheckFailedException')) throw failure;
        });
        output = await take();
      }
      const next = Number(output.Attributes?.next);
      const generation = output.Attributes?.generation;
      if (!Number.isSafeInteger(next) || typeof generation !== 'string')
        throw new Error('the launch sequence is unreadable');
      return { generation, first: next - amount + 1 };
    },

    async takeClaim(kind, instanceId, request) {
      const now = request.now.getTime();
      try {
        const taken = await send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: workerKey(instanceId), sk: `claim#${kind}` },
            UpdateExpression: 'SET #state = :working, #at = :now, eventId = :event, expiresAt = :expires',
            // A claim that does not parse (no known state, no numeric time) is set aside: taken as a first delivery.
            ConditionExpression:
              'attribute_not_exists(pk) OR #state = :open OR (#state = :working AND #at <= :expired) OR expiresAt <= :nowS OR NOT (#state IN (:working, :open, :done)) OR NOT attribute_type(#at, :number)',
            ExpressionAttributeNames: { '#state': 'state', '#at': 'at' },
            ExpressionAttributeValues: {
              ':working': 'working',
              ':open': 'open',
              ':now': now,
              ':expired': now - request.ttlMs,
              ':event': request.eventId,
              ':expires': expiry(request.now, CLAIM_MEMORY_S),
              ':nowS': seconds(request.now),
              ':done': 'done',
              ':number': 'N',
            },
            ReturnValues: 'ALL_OLD',
          }),
        );
        const old = claimItem.safeParse(taken.Attributes);
        return old.success && !expired(taken.Attributes, request.now)
          ? { progress: progressOf(old.data), takenOver: old.data.state === 'working' }
          : { progress: progressOf(undefined), takenOver: false };
      } catch (error) {
        if (isNamed(error, 'ConditionalCheckFailedException')) return undefined;
        throw error;
      }
    },

    async settleClaim(kind, instanceId, settled, progress) {
      await send(
        new PutCommand({
          TableName: table,
          Item: {
            pk: workerKey(instanceId),
            sk: `claim#${kind}`,
            v: SCHEMA_VERSION,
            state: settled.state,
            at: settled.now.getTime(),
            eventId: settled.eventId,
            ...progress,
            expiresAt: expiry(settled.now, CLAIM_MEMORY_S),
          },
        }),
      );
    },

    async recordClaimStep(kind, instanceId, eventId, step) {
      try {
        await send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: workerKey(instanceId), sk: `claim#${kind}` },
            UpdateExpression: 'SET #step = :done',
            ConditionExpression: 'eventId = :event AND #state = :working',
            ExpressionAttributeNames: { '#step': step, '#state': 'state' },
            ExpressionAttributeValues: { ':done': true, ':event': eventId, ':working': 'working' },
          }),
        );
      } catch (error) {
        // Taken over or settled meanwhile: the claim is another delivery's now.
        if (!isNamed(error, 'ConditionalCheckFailedException')) throw error;
      }
    },

    async releaseClaim(kind, instanceId) {
      await send(
        new DeleteCommand({ TableName: table, Key: { pk: workerKey(instanceId), sk: `claim#${kind}` } }),
      );
    },

    async registerWorkers(workers) {
      const outcomes = await Promise.allSettled(
        workers.map((worker) =>
          send(
            new PutCommand({
              TableName: table,
              Item: stored(
                workerKey(worker.instanceId),
                'registry',
                worker,
                expiry(worker.launchedAt, REGISTRY_MEMORY_S),
              ),
            }),
          ),
        ),
      );
      return workers.flatMap((worker, n) => (outcomes[n]?.status === 'rejected' ? [worker.instanceId] : []));
    },

    async lookUpWorker(instanceId) {
      const output = await send(
        new GetCommand({ TableName: table, Key: { pk: workerKey(instanceId), sk: 'registry' } }),
      );
      const parsed = registryItem.safeParse(output.Item);
      return parsed.success && !expired(output.Item, new Date())
        ? (fieldsOf(parsed.data) as RegisteredWorker)
        : undefined;
    },

    async recordPoolEvents(events, now) {
      const written = await Promise.all(
        events.map((event) =>
          putIfAbsent(
            stored(
              'pools',
              `${event.kind}#${event.pool.instanceType}@${event.pool.subnetId}#${event.id}`,
              event,
              expiry(now, POOL_EVENT_MEMORY_S),
            ),
          ),
        ),
      );
      return written.filter(Boolean).length;
    },

    async poolEvents(now) {
      const events: PoolEventRecord[] = [];
      let start: QueryCommandOutput['LastEvaluatedKey'];
      do {
        const page = await send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': 'pools' },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) {
          const parsed = poolEventItem.safeParse(item);
          if (parsed.success && !expired(item, now)) events.push(fieldsOf(parsed.data));
        }
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return events;
    },
  };

  /**
   * The item a failed condition met, read again, strongly consistent. (The `Item` a ConditionalCheckFailedException
   * carries is in DynamoDB's wire format, which the document client does not convert.)
   */
  async function itemOf(Key: { pk: string; sk: string }) {
    const output = await send(new GetCommand({ TableName: table, Key, ConsistentRead: true }));
    return output.Item;
  }

  /**
   * Replaces a lease item that does not parse with a free one whose epoch (the time in ms) is above any counter a
   * live holder could have: every fenced commit of a holder before it fails.
   */
  async function repairLease(Key: { pk: string; sk: string }, now: Date): Promise<void> {
    try {
      await send(
        new PutCommand({
          TableName: table,
          Item: { ...Key, until: 0, epoch: now.getTime(), pending: true },
          ConditionExpression:
            'attribute_exists(pk) AND (NOT attribute_type(#until, :number) OR NOT attribute_type(epoch, :number))',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':number': 'N' },
        }),
      );
    } catch (error) {
      if (!isNamed(error, 'ConditionalCheckFailedException')) throw error;
    }
  }

  return state;
}

function expired(item: Record<string, unknown> | undefined, now: Date): boolean {
  const at = item?.expiresAt;
  return typeof at === 'number' && at <= seconds(now);
}

/** A fleet's items as facts: expired ones are absent, ones that do not parse are named in `unreadable`. */
export function factsOf(items: readonly Record<string, unknown>[], now: Date): FleetFacts {
  let size: FleetFacts['size'];
  const requests: SizeRequest[] = [];
  const replacements: Record<string, ReplacementFact> = {};
  const intents: LaunchIntent[] = [];
  const scheduledChanges: ScheduledChange[] = [];
  let image: FleetFacts['image'];
  const retirements: Record<string, RetirementFact> = {};
  const unreadable: string[] = [];
  for (const item of items) {
    if (expired(item, now)) continue;
    const sk = String(item.sk);
    const [kind] = sk.split('#');
    const parse = <T>(schema: z.ZodType<T>): T | undefined => {
      const parsed = schema.safeParse(item);
      if (!parsed.success) unreadable.push(sk);
      return parsed.success ? parsed.data : undefined;
    };
    switch (kind) {
      case 'size': {
        const found = parse(sizeItem);
        if (found !== undefined) size = fieldsOf(found);
        break;
      }
      case 'request': {
        const found = parse(requestItem);
        if (found !== undefined && found.applied !== true) {
          const { applied: _applied, ...request } = fieldsOf(found);
          requests.push(request);
        }
        break;
      }
      case 'replacement': {
        const found = parse(replacementItem);
        if (found !== undefined) replacements[found.instanceId] = fieldsOf(found);
        break;
      }
      case 'intent': {
        const found = parse(intentItem);
        if (found !== undefined) intents.push(fieldsOf(found));
        break;
      }
      case 'scheduled': {
        const found = parse(scheduledChangeItem);
        if (found !== undefined) scheduledChanges.push(fieldsOf(found));
        break;
      }
      case 'image': {
        const found = parse(imageItem);
        if (found !== undefined) image = fieldsOf(found);
        break;
      }
      case 'retirement': {
        const found = parse(retirementItem);
        if (found !== undefined) retirements[found.instanceId] = fieldsOf(found);
        break;
      }
      case 'lease':
        break;
      default:
        unreadable.push(sk);
    }
  }
  requests.sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
  intents.sort((a, b) => a.at.localeCompare(b.at) || a.slot.localeCompare(b.slot));
  return {
    size,
    requests,
    replacements,
    intents,
    retirements,
    unreadable,
    scheduledChanges,
    ...(image ? { image } : {}),
  };
}
