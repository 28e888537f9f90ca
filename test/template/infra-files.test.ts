import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { loadMetricList, observability } from '../../config/observability.cjs';

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

    expect(pulled.filter((file) => file?.startsWith('infra/')).sort()).toEqual([...files].sort());
    // The one source generated at package time (the alarms and the dashboard, from the metric list).
    expect(pulled.filter((file) => !file?.startsWith('infra/'))).toEqual(['./config/observability.cjs']);
  });

  it('define each parameter, condition, resource and output in one file only', () => {
    const definedIn = new Map<string, string[]>();
    const generated = observability({
      stage: 'test',
      belowTargetMinutes: 15,
      metrics: loadMetricList(),
    });
    const sources: [string, Record<string, unknown>][] = [
      ...files.map((file): [string, Record<string, unknown>] => [file, readYaml(file)]),
      ['config/observability.cjs', generated],
    ];
    for (const [file, content] of sources) {
      for (const [section, entries] of Object.entries(content)) {
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
