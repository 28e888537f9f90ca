/**
 * Surgery on the EC2 query API's XML answers, as moto renders them, for what the test proxy changes in them. Instances
 * are `<item>` elements of an `<instancesSet>` (RunInstances: directly under the answer; DescribeInstances: in each
 * reservation, an `<item>` of the `<reservationSet>`); items nest (tags, groups, interfaces), so they are found by depth.
 */

/** A part of an answer: xml.slice(start, end). */
interface Span {
  readonly start: number;
  readonly end: number;
}

/** One instance of an answer: its `<item>` element and its id. */
export interface InstanceItem extends Span {
  readonly instanceId: string;
}

const ITEM_OPEN = '<item>';
const ITEM_CLOSE = '</item>';

/** An EC2 error answer in the shape the SDK parses (`Response/Errors/Error`), the shape EC2 and moto send. */
export function ec2ErrorXml(code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error></Errors><RequestID>emulator-proxy</RequestID></Response>`
  );
}

/** The instances of a RunInstances answer, in its order. */
export function launchedInstances(xml: string): InstanceItem[] {
  const set = contentOf(xml, 'instancesSet', { start: 0, end: xml.length });
  return set === undefined ? [] : instanceItems(xml, set);
}

/** The instances of a DescribeInstances answer, every reservation's, in their order. */
export function describedInstances(xml: string): InstanceItem[] {
  return reservations(xml).flatMap((reservation) => reservation.instances);
}

/** A RunInstances answer whose instances are `items` (whole `<item>` elements), in place of its own. */
export function withInstancesSet(xml: string, items: readonly string[]): string {
  const set = contentOf(xml, 'instancesSet', { start: 0, end: xml.length });
  if (set === undefined) throw new Error('a RunInstances answer without an instancesSet');
  return xml.slice(0, set.start) + items.join('') + xml.slice(set.end);
}

/**
 * A DescribeInstances answer without the instances named in `hidden`; a reservation left without instances goes
 * too, as EC2 lists no empty reservation.
 */
export function withoutInstances(xml: string, hidden: ReadonlySet<string>): string {
  if (hidden.size === 0) return xml;
  const cuts = reservations(xml).flatMap((reservation): Span[] => {
    const gone = reservation.instances.filter((instance) => hidden.has(instance.instanceId));
    return gone.length === reservation.instances.length && gone.length > 0 ? [reservation] : gone;
  });
  let answer = '';
  let kept = 0;
  for (const cut of cuts) {
    answer += xml.slice(kept, cut.start);
    kept = cut.end;
  }
  return answer + xml.slice(kept);
}

function reservations(xml: string): (Span & { instances: InstanceItem[] })[] {
  const set = contentOf(xml, 'reservationSet', { start: 0, end: xml.length });
  if (set === undefined) return [];
  return topItems(xml, set).map((reservation) => {
    const instances = contentOf(xml, 'instancesSet', reservation);
    return { ...reservation, instances: instances === undefined ? [] : instanceItems(xml, instances) };
  });
}

function instanceItems(xml: string, set: Span): InstanceItem[] {
  return topItems(xml, set).map((item) => ({ ...item, instanceId: ownInstanceId(xml, item) }));
}

/** The instance's own `<instanceId>`: the first outside the items nested in it. */
function ownInstanceId(xml: string, item: Span): string {
  const inner = { start: item.start + ITEM_OPEN.length, end: item.end - ITEM_CLOSE.length };
  const nested = topItems(xml, inner);
  const pattern = /<instanceId>([^<]*)<\/instanceId>/g;
  pattern.lastIndex = inner.start;
  for (let match = pattern.exec(xml); match !== null && match.index < inner.end; match = pattern.exec(xml)) {
    const at = match.index;
    if (!nested.some((child) => child.start <= at && at < child.end)) return match[1] ?? '';
  }
  throw new Error(`an instance item without its instanceId: ${xml.slice(item.start, item.start + 200)}`);
}

/** What is between `<name>` and `</name>`, the first such element within `within`; undefined when absent or empty. */
function contentOf(xml: string, name: string, within: Span): Span | undefined {
  const open = xml.indexOf(`<${name}>`, within.start);
  if (open < 0 || open >= within.end) return undefined;
  const start = open + name.length + 2;
  const end = xml.indexOf(`</${name}>`, start);
  if (end < 0 || end > within.end) throw new Error(`an unclosed <${name}> in an EC2 answer`);
  return { start, end };
}

/** The `<item>` elements at the top level of `within` (those nested in them are inside their spans). */
function topItems(xml: string, within: Span): Span[] {
  const items: Span[] = [];
  const tags = /<\/?item>/g;
  tags.lastIndex = within.start;
  let depth = 0;
  let start = 0;
  for (let tag = tags.exec(xml); tag !== null && tag.index < within.end; tag = tags.exec(xml)) {
    if (tag[0] === ITEM_OPEN) {
      if (depth === 0) start = tag.index;
      depth += 1;
    } else {
      depth -= 1;
      if (depth === 0) items.push({ start, end: tag.index + ITEM_CLOSE.length });
    }
  }
  return items;
}

/** A scheduled event as DescribeInstanceStatus lists it for an instance (`eventsSet`). */
export interface ScheduledEventXml {
  readonly instanceEventId: string;
  readonly code: string;
  readonly description: string;
  readonly notBefore: Date;
  readonly notAfter?: Date;
}

/**
 * A DescribeInstanceStatus answer in which each instance of `events` lists its scheduled events (`eventsSet`, after
 * its `instanceId`, as EC2 renders it); moto lists none.
 */
export function withScheduledEvents(xml: string, events: ReadonlyMap<string, readonly ScheduledEventXml[]>) {
  let answer = xml;
  for (const [instanceId, scheduled] of events) {
    const items = scheduled
      .map(
        (event) =>
          `<item><instanceEventId>${event.instanceEventId}</instanceEventId><code>${event.code}</code>` +
          `<description>${event.description}</description><notBefore>${event.notBefore.toISOString()}</notBefore>` +
          (event.notAfter === undefined ? '' : `<notAfter>${event.notAfter.toISOString()}</notAfter>`) +
          '</item>',
      )
      .join('');
    const id = `<instanceId>${instanceId}</instanceId>`;
    answer = answer.split(id).join(`${id}<eventsSet>${items}</eventsSet>`);
  }
  return answer;
}
