/**
 * EventBridge delivery for the sandbox. The emulator matches events against the deployed rules but cannot invoke a
 * Lambda target, so each deployed rule's function target is swapped for a queue of that function: an event put on
 * the bus reaches exactly the functions whose deployed patterns match it, and the sandbox runs their handlers in
 * process with the event as delivered.
 */
import {
  type EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createQueue, drainQueue, type Queue, ruleToQueue } from './queues';

/** An event as a rule delivered it to a function. */
export interface Delivery {
  readonly functionName: string;
  readonly rule: string;
  readonly event: DeliveredEvent;
}

export interface DeliveredEvent {
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly time: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

/** What is put on the bus: the parts of an event a sender controls (EventBridge assigns id, account, region). */
export interface BusEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly resources?: readonly string[];
  readonly detail: unknown;
  readonly time?: Date;
}

/** A deployed rule whose function target now delivers to `inbox`. */
export interface RoutedRule {
  readonly rule: string;
  readonly arn: string;
  readonly functionName: string;
  readonly schedule?: string;
  /** The constant input the rule's target sends instead of the event (the reconcile schedule's). */
  readonly input?: string;
  readonly inbox: Queue;
}

/** The function a Lambda target ARN names: `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`. */
const functionNameOf = (arn: string) => /:function:([^:]+)/.exec(arn)?.[1];

export class EventRouter {
  private constructor(
    private readonly events: EventBridgeClient,
    private readonly sqs: SQSClient,
    /** The deployed rules that target a function, each now delivering to its own queue. */
    readonly rules: readonly RoutedRule[],
  ) {}

  /**
   * Points every rule whose name starts with `prefix` (the stack's rules) at a queue of its function instead of the
   * function. Fails when no rule targets a function: then the stack is not deployed.
   */
  static async install(events: EventBridgeClient, sqs: SQSClient, prefix: string): Promise<EventRouter> {
    const listed = await events.send(new ListRulesCommand({ NamePrefix: prefix }));
    const rules: RoutedRule[] = [];
    for (const rule of listed.Rules ?? []) {
      const name = rule.Name ?? '';
      const targets = await events.send(new ListTargetsByRuleCommand({ Rule: name }));
      for (const target of targets.Targets ?? []) {
        const functionName = functionNameOf(target.Arn ?? '');
        if (functionName === undefined) continue;
        const inbox = await createQueue(sqs, `${name}-inbox`);
        await events.send(new RemoveTargetsCommand({ Rule: name, Ids: [target.Id ?? ''] }));
        // A schedule rule gets no queue: the emulator would match it against every event on the bus.
        if (rule.ScheduleExpression === undefined) {
          await events.send(
            new PutTargetsCommand({ Rule: name, Targets: [{ Id: `${name}-inbox`, Arn: inbox.arn }] }),
          );
        }
        rules.push({
          rule: name,
          functionName,
          arn: rule.Arn ?? '',
          inbox,
          ...(rule.ScheduleExpression === undefined ? {} : { schedule: rule.ScheduleExpression }),
          ...(target.Input === undefined ? {} : { input: target.Input }),
        });
      }
    }
    if (rules.length === 0) throw new Error(`no deployed rule named ${prefix}* targets a function`);
    return new EventRouter(events, sqs, rules);
  }

  /** A queue that receives what a new rule with `pattern` matches: how the sandbox watches the bus. */
  async watch(name: string, pattern: unknown): Promise<() => Promise<DeliveredEvent[]>> {
    const queue = await ruleToQueue(this.events, this.sqs, name, pattern);
    return async () =>
      (await drainQueue(this.sqs, queue.url)).map((body) => JSON.parse(body) as DeliveredEvent);
  }

  /** Puts events on the default bus; fails on any entry the bus refused. */
  async put(...entries: readonly BusEvent[]): Promise<void> {
    const put = await this.events.send(
      new PutEventsCommand({
        Entries: entries.map((entry) => ({
          Source: entry.source,
          DetailType: entry['detail-type'],
          Detail: JSON.stringify(entry.detail),
          Resources: [...(entry.resources ?? [])],
          Time: entry.time ?? new Date(),
        })),
      }),
    );
    if ((put.FailedEntryCount ?? 0) > 0) {
      throw new Error(`the bus refused events: ${JSON.stringify(put.Entries)}`);
    }
  }

  /** Everything the rules delivered since the last call, rule by rule. */
  async deliveries(): Promise<Delivery[]> {
    const delivered: Delivery[] = [];
    for (const { rule, functionName, inbox } of this.rules) {
      for (const body of await drainQueue(this.sqs, inbox.url)) {
        delivered.push({ functionName, rule, event: JSON.parse(body) as DeliveredEvent });
      }
    }
    return delivered;
  }

  /** The schedule rule of a function: the emulator never fires schedules, so the sandbox sends their events. */
  /** The schedule that sends `functionName` the scheduled event itself (not a constant input). */
  scheduleOf(functionName: string): RoutedRule & { schedule: string } {
    const found = this.rules.find(
      (rule) => rule.functionName === functionName && rule.schedule !== undefined && rule.input === undefined,
    );
    if (found?.schedule === undefined) throw new Error(`no deployed schedule targets ${functionName}`);
    return { ...found, schedule: found.schedule };
  }
}
