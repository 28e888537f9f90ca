/**
 * Builds a value on first use and keeps it. Nothing is built when a module loads (a cold start pays for every
 * module a function imports): clients, chunks and validation schemas are made when first needed, once.
 */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}
