import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = join(__dirname, '../../src');

/** src/<folder> of a file or module path; a file directly in src/ is its own layer (config, errors, logger). */
const layerOf = (path: string) => {
  const [first, second] = relative(SRC, path).split('/');
  return second === undefined ? (first ?? '').replace(/\.ts$/, '') : (first ?? '');
};

/** Every relative import of every source file, as folder → folder edges. */
function folderEdges(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.ts'),
  );
  for (const file of files) {
    const path = join(SRC, file);
    for (const [, specifier] of readFileSync(path, 'utf8').matchAll(
      /from '(\.[^']+)'|import\('(\.[^']+)'\)/g,
    )) {
      if (specifier === undefined) continue;
      const from = layerOf(path);
      const to = layerOf(normalize(join(dirname(path), specifier)));
      if (from !== to) edges.set(from, new Set([...(edges.get(from) ?? []), to]));
    }
  }
  return edges;
}

/** A path of folders that leads back to its start, or undefined when the folders form no cycle. */
function findCycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const done = new Set<string>();
  const visit = (folder: string, path: readonly string[]): string[] | undefined => {
    if (path.includes(folder)) return [...path.slice(path.indexOf(folder)), folder];
    if (done.has(folder)) return undefined;
    for (const next of edges.get(folder) ?? []) {
      const cycle = visit(next, [...path, folder]);
      if (cycle !== undefined) return cycle;
    }
    done.add(folder);
    return undefined;
  };
  for (const folder of edges.keys()) {
    const cycle = visit(folder, []);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

describe('the layers of src/', () => {
  const edges = folderEdges();

  it('finds the imports between folders it checks', () => {
    expect(edges.get('fleet')).toContain('aws');
    expect(edges.get('aws')).toContain('model');
  });

  it('have no import cycle between folders', () => {
    expect(findCycle(edges)).toBeUndefined();
  });

  it('finds a cycle when two folders import each other', () => {
    const cyclic = new Map([
      ['aws', new Set(['model', 'fleet'])],
      ['fleet', new Set(['aws'])],
    ]);
    expect(findCycle(cyclic)).toEqual(['aws', 'fleet', 'aws']);
  });

  it('keep src/model importing nothing of the project', () => {
    expect([...(edges.get('model') ?? [])]).toEqual([]);
  });
});
