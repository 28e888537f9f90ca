/**
 * Surviving mutants that no test can detect: the mutated code behaves as the original for every input the module
 * can be given. Matched by file name, mutator and text (not line), so they follow their code when it moves; a listed
 * mutant that no longer survives is reported as such in results.md.
 */
export interface EquivalentMutant {
  /** The module's file name, without its folder. */
  readonly file: string;
  readonly mutator: string;
  /** The code as written (white space does not matter). */
  readonly original: string;
  readonly replacement: string;
  readonly reason: string;
}

export const EQUIVALENT_MUTANTS: readonly EquivalentMutant[] = [];
