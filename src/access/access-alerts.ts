import { isAccessDenied } from './access-record';
import type { AttributedAccess } from './attribution';

/** What an access can be alarming for. */
export type AccessAlertKind = 'access-after-termination' | 'imdsv1-credentials' | 'access-denied-burst';

export interface AccessAlert {
  readonly kind: AccessAlertKind;
  readonly principal: string;
  readonly instanceId?: string;
  readonly fleet?: string;
  /** How many accesses raised it, and when the first and last were made. */
  readonly count: number;
  readonly firstTime: string;
  readonly lastTime: string;
  /** The first keys involved (at most KEPT_KEYS). */
  readonly keys: readonly string[];
}

/** Refused requests by one principal within one input (an access log file, an event) that make a burst. */
export const DENIED_BURST = 10;
const KEPT_KEYS = 10;

type Tally = { -readonly [K in keyof AccessAlert]: AccessAlert[K] } & { keys: string[] };

/**
 * Collects the alerts of one input as its accesses go by: a worker's credentials used after its instance ended,
 * instance credentials delivered through IMDSv1, and bursts of access denied by one principal. Each alert is raised
 * once per input for each instance (or principal), with the count of accesses behind it.
 */
export class AccessAlerts {
  readonly #tallies = new Map<string, Tally>();

  observe(access: AttributedAccess): void {
    if (access.afterTermination === true) this.#count('access-after-termination', access);
    if (access.credentialDelivery === '1.0') this.#count('imdsv1-credentials', access);
    if (isAccessDenied(access)) this.#count('access-denied-burst', access);
  }

  /** The alerts raised so far; denied accesses only once they make a burst. */
  list(): AccessAlert[] {
    return [...this.#tallies.values()].filter(
      (tally) => tally.kind !== 'access-denied-burst' || tally.count >= DENIED_BURST,
    );
  }

  #count(kind: AccessAlertKind, access: AttributedAccess): void {
    const key = `${kind} ${access.instanceId ?? access.principal}`;
    const tally = this.#tallies.get(key);
    if (tally === undefined) {
      this.#tallies.set(key, {
        kind,
        principal: access.principal,
        ...(access.instanceId === undefined ? {} : { instanceId: access.instanceId }),
        ...(access.fleet === undefined ? {} : { fleet: access.fleet }),
        count: 1,
        firstTime: access.time,
        lastTime: access.time,
        keys: access.key === '' ? [] : [access.key],
      });
      return;
    }
    tally.count += 1;
    if (access.time < tally.firstTime) tally.firstTime = access.time;
    if (access.time > tally.lastTime) tally.lastTime = access.time;
    if (tally.keys.length < KEPT_KEYS && access.key !== '' && !tally.keys.includes(access.key)) {
      tally.keys.push(access.key);
    }
  }
}
