import type { Pool, PoolEventKind } from './pool';

/**
 * The control plane's state: one item per fact, each written with a condition on itself, so a wave of triggers
 * never contends for one document. Triggers only add facts (a size request, a replacement, a claim, a pool event);
 * whoever reconciles a fleet holds its fenced lease, and every change it records is conditional on the lease's
 * epoch: a holder whose lease was taken over records nothing, and so does nothing (docs/reconciliation.md).
 * The DynamoDB adapter is src/aws/fleet-state-table.ts. Every item carries SCHEMA_VERSION and is validated when read;
 * one that does not parse is set aside, never obeyed.
 */
export const SCHEMA_VERSION = 1;

export type SizeRequestKind = 'schedule' | 'event' | 'direct' | 'reap';

/** What a trigger asks of a fleet's size: a target, this many more than it has, or this many fewer (the reaper). */
export interface SizeRequest {
  readonly id: string;
  readonly kind: SizeRequestKind;
  readonly target?: number;
  readonly count?: number;
  /** Lower the desired size by this many, never below `floor` (idle workers the reaper terminates). */
  readonly shrink?: number;
  readonly floor?: number;
  /** When it was recorded (ISO). */
  readonly at: string;
  /** When its trigger happened (the event's `time`, ISO): a target older than the last one applied changes nothing. */
  readonly eventTime?: string;
}

export type ReplacementCause =
  | 'spot-interruption'
  | 'rebalance-recommendation'
  | 'missed-warning'
  /** A planned retirement that keeps the fleet's size: the replacement runs before the worker drains. */
  | 'retirement';

/**
 * Why a worker is retired through the graceful path (src/fleet/retirement.ts): each goes through the same steps,
 * replaced first where the reason says so, then drained, then terminated (docs/retirement.md).
 */
export type RetirementReason =
  | 'idle'
  | 'max-lifetime'
  | 'operator-drain'
  | 'replaced-early'
  | 'orphan'
  | 'above-max'
  | 'scheduled-change'
  | 'ami-drift'
  /** Rebuilt from a worker's drain tag when its fact was lost (expired, unreadable). */
  | 'rebuilt';

/**
 * A worker on its way out, gracefully: recorded once (created only if absent, or under the fleet's fence), then
 * moved on by the reaper's runs under their fence: replaced first (`replaceFirst`, through a replacement fact), then
 * asked to drain (`drainRequestedAt`, also a tag on the worker, which its agent reads through the instance metadata
 * service), then terminated when its heartbeat says `drained` or at `deadline`. It expires, so a reaper that dies
 * between steps leaves nothing that lasts; the worker's drain tag rebuilds it.
 */
export interface RetirementFact {
  readonly instanceId: string;
  readonly reason: RetirementReason;
  /** A replacement is launched, and runs, before the worker is asked to drain. */
  readonly replaceFirst: boolean;
  /** When the retirement was decided (ISO). */
  readonly requestedAt: string;
  /** When the worker was asked to drain (ISO); absent while its replacement is on its way. */
  readonly drainRequestedAt?: string;
  /** When it is terminated whatever its heartbeat says (ISO): the drain request plus the fleet's drainGraceMinutes. */
  readonly deadline?: string;
  /** What asked for it (an event id, an operator's request): notifications carry it as correlationId. */
  readonly correlationId?: string;
  /** The pool the worker runs in: its replacement avoids it only when the reason is about the pool. */
  readonly pool?: { readonly instanceType: string; readonly subnetId: string };
  /** Not asked to drain before this time (ISO): an orphan's grace, in which its fleet may be configured again. */
  readonly notBefore?: string;
  /** Terminated before this time (ISO) whatever its drain grace: when the change AWS scheduled begins. */
  readonly notAfter?: string;
}

/** A worker that is going or gone and needs one replacement, away from its pool. */
export interface ReplacementFact {
  readonly instanceId: string;
  readonly cause: ReplacementCause;
  /** The event that told us (its id: what notifications carry as correlationId). */
  readonly correlationId: string;
  readonly pool: { readonly instanceType: string; readonly subnetId: string };
  readonly at: string;
  /** `pending` until its launch is answered; `launched` with its instances; `notified` once that is told (SNS and bus). */
  readonly status: 'pending' | 'launched' | 'notified';
  readonly instanceIds?: readonly string[];
  readonly launchedAt?: string;
  /** The epoch of the holder that is telling it: a later holder tells it again only if that one's lease ended. */
  readonly tellingEpoch?: number;
  /** Its notice is on the topic (SNS) and only its copy on the bus is left: a retry never publishes it twice. */
  readonly published?: boolean;
  /** The fleet topic was told there is no capacity for it (once: it is retried every reconciliation). */
  readonly toldNoCapacity?: boolean;
  /** For a retirement's replacement: why the worker is retired. */
  readonly reason?: RetirementReason;
}

/** The size the fleet's reconciliation keeps, and the request that set it. */
export interface FleetSize {
  readonly desired: number;
  readonly desiredBy?: { readonly id: string; readonly kind: SizeRequestKind };
  /** When the last target applied happened (its event time, else when it was recorded): an older target is stale. */
  readonly targetAt?: string;
  /** The last target applied: a scheduled tick that repeats it does not undo the reaper's lowering. */
  readonly target?: number;
}

/**
 * A launch recorded before it is sent (write-ahead): the slot it fills, the ClientToken and the exact request. A later
 * pass for the same slot re-sends that request, so EC2 answers it with the same instances, whoever sends it and
 * whatever the pool choice has become meanwhile. Its instances count as capacity until DescribeInstances lists them
 * or IN_FLIGHT_MS passes (in-flight accounting).
 */
export interface LaunchIntent {
  /** `replace-<instance-id>` for a replacement (the first it replaces), `grow-<seq>-<share>` for growth. */
  readonly slot: string;
  readonly count: number;
  /** For a replacement: the workers it replaces (`count` of them, one pool's), in launch order. */
  readonly replaces?: readonly string[];
  /** The subnet a growth share launches in. */
  readonly subnetId?: string;
  /** Spot pools (placement keys) this slot tried and found without capacity, or must avoid. */
  readonly avoid: readonly string[];
  /** The request as it is (re-)sent: its ClientToken comes from a sequence that never repeats. */
  readonly attempt?: LaunchAttempt;
  /** `open` until EC2 answers; `answered` with the instances it launched; `short` when no pool had capacity. */
  readonly status: 'open' | 'answered' | 'short';
  readonly instanceIds?: readonly string[];
  readonly answeredAt?: string;
  /** Its outcome was told on the fleet topic. */
  readonly told?: boolean;
  readonly at: string;
}

export interface LaunchAttempt {
  readonly clientToken: string;
  readonly pool: Pool;
  /** The RunInstances input, as JSON: re-sent byte for byte. */
  readonly input: string;
}

/**
 * A change AWS scheduled for a worker (a retirement, a reboot, maintenance), as an AWS Health event named it or as
 * DescribeInstanceStatus lists it (the backstop): one fact per event and instance, so a redelivery records nothing.
 */
export interface ScheduledChange {
  readonly instanceId: string;
  /** Who told: an AWS Health event, or the instance's scheduled events (DescribeInstanceStatus). */
  readonly source: 'health' | 'instance-status';
  /** The Health event's ARN, or EC2's instance event id (`instance-event-…`). */
  readonly eventId: string;
  /** The Health event type code, or EC2's event code (`instance-retirement`, `system-reboot`, …). */
  readonly code: string;
  /** When the change may begin (ISO): the worker is to be retired before. */
  readonly startsAt: string;
  readonly description?: string;
  /** The change was completed or cancelled (a closed Health event, a resolved entity): nothing is due for it. */
  readonly closed?: boolean;
  /** When it was recorded (ISO). */
  readonly at: string;
}

/** The image a fleet's reconciliation resolved for its `ami` when it last ran: what new workers get. */
export interface FleetImage {
  /** The fleet's `ami` as configured (an id or an SSM parameter name) when it was resolved. */
  readonly ami: string;
  readonly imageId: string;
  /** When it was resolved (ISO). */
  readonly at: string;
}

/** Everything one pass of a fleet's reconciliation reads: one strongly consistent query of the fleet's items. */
export interface FleetFacts {
  readonly size?: FleetSize;
  /** Requests not applied yet, oldest first. */
  readonly requests: readonly SizeRequest[];
  readonly replacements: Readonly<Record<string, ReplacementFact>>;
  readonly intents: readonly LaunchIntent[];
  /** Workers being retired gracefully, by instance id (absent where a reader does not need them). */
  readonly retirements?: Readonly<Record<string, RetirementFact>>;
  /** Items that did not parse: set aside by the next commit, logged and counted; never obeyed. */
  readonly unreadable: readonly string[];
  /** Changes AWS scheduled for the fleet's workers, each once per event and instance. */
  readonly scheduledChanges?: readonly ScheduledChange[];
  /** The image the reconciliation last resolved for the fleet. */
  readonly image?: FleetImage;
}

/** A fleet's lease as its holder knows it: every change it commits is conditional on this epoch. */
export interface HeldLease {
  readonly fleet: string;
  /** `reconcile` or `reap`: the reaper's runs are serialised by a lease of their own. */
  readonly name: LeaseName;
  readonly holder: string;
  readonly epoch: number;
  /** How long the lease lasts past each commit: every commit renews it (a holder at work never loses it). */
  readonly ttlMs: number;
  /** The holder's clock less the process's (its `now` may be a test's, or a Lambda's): renewals keep to it. */
  readonly clockOffsetMs: number;
}

export type LeaseName = 'reconcile' | 'reap';

export type LeaseAttempt =
  | { readonly kind: 'held'; readonly lease: HeldLease }
  /** Held by another, which was asked to run again: what this caller wanted is now the holder's to do. */
  | { readonly kind: 'handed-off'; readonly holder: string }
  /** Held by another, and the caller did not ask to hand off. */
  | { readonly kind: 'busy'; readonly holder: string };

/** One change a holder commits: each is conditional, with the others, on its lease's epoch. */
export type FactChange =
  | { readonly kind: 'image'; readonly image: FleetImage }
  | { readonly kind: 'size'; readonly size: FleetSize }
  | { readonly kind: 'applied'; readonly requestId: string }
  | { readonly kind: 'replacement'; readonly fact: ReplacementFact }
  | { readonly kind: 'intent'; readonly intent: LaunchIntent }
  | { readonly kind: 'intent-done'; readonly slot: string }
  | { readonly kind: 'retirement'; readonly fact: RetirementFact }
  | { readonly kind: 'retirement-done'; readonly instanceId: string }
  | { readonly kind: 'set-aside'; readonly key: string };

/** The once-per-event claim of a spot warning or a rebalance recommendation, with what is done. */
export interface ClaimProgress {
  /** The notification is out (the SNS topic). */
  readonly notified: boolean;
  /** Its copy is on the bus (the EventBridge event of the notification): a step of its own, never repeating the SNS one. */
  readonly copied: boolean;
  /** The worker carries the interrupted tags. */
  readonly tagged: boolean;
  /** Worker Draining is on the bus. */
  readonly announced: boolean;
  /** The pool's memory has counted the event. */
  readonly counted: boolean;
}

export type ClaimKind = 'warning' | 'rebalance';

/** The deployment's own record of a worker it launched: what a warning's notification needs without EC2. */
export interface RegisteredWorker {
  readonly instanceId: string;
  readonly fleet: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly subnetId: string;
  readonly market: string;
  readonly launchedAt: string;
}

/** A pool event as stored: one item each, keyed by what it is about, so a retry records it once. */
export interface PoolEventRecord {
  readonly pool: { readonly instanceType: string; readonly subnetId: string };
  readonly kind: PoolEventKind;
  /** What the event is about (an instance id for an interruption): the same id is recorded once. */
  readonly id: string;
  readonly at: string;
}

/** The state every function reaches through: the DynamoDB adapter in production and tests alike. */
export interface FleetState {
  /** Adds a size request; false when a request with its id is known (a redelivery). */
  addRequest(fleet: string, request: SizeRequest): Promise<boolean>;
  /** Adds a replacement fact; false when the worker already has one. */
  addReplacement(fleet: string, fact: ReplacementFact): Promise<boolean>;
  /** Adds a retirement fact; false when the worker already has one (the entry point of every planned retirement). */
  addRetirement(fleet: string, fact: RetirementFact): Promise<boolean>;
  readFacts(fleet: string, now: Date): Promise<FleetFacts>;
  /**
   * Records a scheduled change of a worker, once per event and instance: false when known (a redelivery, or the
   * backstop seeing what an event told). A closed change is recorded over an open one, never the reverse.
   */
  addScheduledChange(fleet: string, change: ScheduledChange): Promise<boolean>;
  takeLease(
    fleet: string,
    name: LeaseName,
    request: {
      readonly holder: string;
      readonly now: Date;
      readonly ttlMs: number;
      readonly handOff: boolean;
    },
  ): Promise<LeaseAttempt>;
  /** `released`; `again` (kept, renewed) when someone asked for another run meanwhile; `lost` when taken over. */
  releaseLease(
    lease: HeldLease,
    renewal: { readonly now: Date; readonly ttlMs: number; readonly keepPending?: boolean },
  ): Promise<'released' | 'again' | 'lost'>;
  /** Commits changes under the lease's fence; throws FenceLostError when the lease is no longer this holder's. */
  commit(lease: HeldLease, changes: readonly FactChange[]): Promise<void>;
  /** `count` numbers of the deployment's launch sequence, never given before, with the table's generation. */
  nextTokens(count: number): Promise<{ readonly generation: string; readonly first: number }>;
  /** Takes an event's claim: what is done when this delivery may act, undefined when another holds it or it is done. */
  takeClaim(
    kind: ClaimKind,
    instanceId: string,
    request: { readonly eventId: string; readonly now: Date; readonly ttlMs: number },
  ): Promise<{ readonly progress: ClaimProgress; readonly takenOver: boolean } | undefined>;
  settleClaim(
    kind: ClaimKind,
    instanceId: string,
    settled: { readonly eventId: string; readonly now: Date; readonly state: 'open' | 'done' },
    progress: ClaimProgress,
  ): Promise<void>;
  /**
   * Records one step of a claim as done, while its delivery holds it (still `working` for this event): a delivery
   * that dies after the step leaves it recorded, and the retry does not repeat it.
   */
  recordClaimStep(
    kind: ClaimKind,
    instanceId: string,
    eventId: string,
    step: keyof ClaimProgress,
  ): Promise<void>;
  releaseClaim(kind: ClaimKind, instanceId: string): Promise<void>;
  registerWorkers(workers: readonly RegisteredWorker[]): Promise<string[]>;
  lookUpWorker(instanceId: string): Promise<RegisteredWorker | undefined>;
  /** Records pool events, each once by its kind, pool and id: resolves to how many were new. */
  recordPoolEvents(events: readonly PoolEventRecord[], now: Date): Promise<number>;
  poolEvents(now: Date): Promise<readonly PoolEventRecord[]>;
}

/** A holder's lease was taken over: it committed nothing, and must do nothing more. */
export class FenceLostError extends Error {
  override name = 'FenceLostError';
}
