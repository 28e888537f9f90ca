import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

const ROOT = join(__dirname, '..', '..');

/** A YAML file as plain data; CloudFormation's short tags (!Ref, !Sub) read as the values they tag. */
const readYaml = (path: string): Record<string, unknown> =>
  parseDocument(readFileSync(join(ROOT, path), 'utf8')).toJS();

/**
 * The Serverless Framework merges the files under `resources:` key by key, silently: a file left out is not
 * deployed, and a logical ID in two files becomes one resource with the properties of both.
 */
describe('the infra files', () => {
  const files = readdirSync(join(ROOT, 'infra'))
    .filter((file) => file.endsWith('.yml'))
    .map((file) => `infra/${file}`);

  it('are all pulled into serverless.yml', () => {
    const resources = readYaml('serverless.yml').resources as string[];
    const pulled = resources.map((entry) => /^\$\{file\((.+)\)\}$/.exec(entry)?.[1]);

    expect(pulled.sort()).toEqual([...files].sort());
  });

  it('define each parameter, condition, resource and output in one file only', () => {
    const definedIn = new Map<string, string[]>();
    for (const file of files) {
      for (const [section, entries] of Object.entries(readYaml(file))) {
        for (const name of Object.keys(entries ?? {})) {
          const key = `${section}.${name}`;
          definedIn.set(key, [...(definedIn.get(key) ?? []), file]);
        }
      }
    }

    expect([...definedIn].filter(([, where]) => where.length > 1)).toEqual([]);
    expect(definedIn.size).toBeGreaterThan(0);
  });
});
