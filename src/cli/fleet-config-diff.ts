import type { FleetSpec } from '../model/fleet-spec';

/** One field of a fleet a push changes: its path in the fleet (`idle.minWorkers`), before and after (absent: unset). */
export interface FieldChange {
  readonly field: string;
  readonly from?: unknown;
  readonly to?: unknown;
}

/** What a fleets document changes against the fleets the functions act on now. */
export interface FleetConfigChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: Readonly<Record<string, readonly FieldChange[]>>;
}

/** A fleet's fields by their dotted paths; a list is one value, compared whole. */
function fieldsOf(value: unknown, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value))
      fieldsOf(inner, prefix === '' ? key : `${prefix}.${key}`, into);
  } else if (value !== undefined) {
    into.set(prefix, value);
  }
  return into;
}

/**
 * The change from the stored fleets to those of a document, both as the functions read them (validated, defaults
 * filled in): a field that only spells out its default is no change. Fleets and fields in name order.
 */
export function diffFleetConfigs(
  before: Readonly<Record<string, FleetSpec>>,
  after: Readonly<Record<string, FleetSpec>>,
): FleetConfigChange {
  const names = (fleets: Readonly<Record<string, FleetSpec>>) => Object.keys(fleets).sort();
  const changed: Record<string, FieldChange[]> = {};
  for (const fleet of names(after)) {
    const old = before[fleet];
    if (old === undefined) continue;
    const from = fieldsOf(old);
    const to = fieldsOf(after[fleet]);
    const fields = [...new Set([...from.keys(), ...to.keys()])].sort();
    const changes = fields
      .filter((field) => JSON.stringify(from.get(field)) !== JSON.stringify(to.get(field)))
      .map((field) => ({
        field,
        ...(from.has(field) ? { from: from.get(field) } : {}),
        ...(to.has(field) ? { to: to.get(field) } : {}),
      }));
    if (changes.length > 0) changed[fleet] = changes;
  }
  return {
    added: names(after).filter((fleet) => before[fleet] === undefined),
    removed: names(before).filter((fleet) => after[fleet] === undefined),
    changed,
  };
}

/** The change as lines for people: `+ fleet`, `- fleet`, `~ fleet: field from → to`; "no change" when none. */
export function describeFleetConfigChange(change: FleetConfigChange): string[] {
  const value = (field: FieldChange, side: 'from' | 'to') =>
    side in field ? JSON.stringify(field[side]) : '(unset)';
  const lines = [
    ...change.added.map((fleet) => `+ ${fleet} (added)`),
    ...change.removed.map((fleet) => `- ${fleet} (removed)`),
    ...Object.entries(change.changed).flatMap(([fleet, fields]) =>
      fields.map((field) => `~ ${fleet}: ${field.field} ${value(field, 'from')} → ${value(field, 'to')}`),
    ),
  ];
  return lines.length === 0 ? ['no change'] : lines;
}
