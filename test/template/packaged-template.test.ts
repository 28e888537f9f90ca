import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagedTemplate } from './packaged-stack';

/**
 * The whole packaged template, as committed. It was first written from serverless.yml before its resources moved
 * to infra/*.yml; any change to what the stack deploys shows here as a diff. After an intended change, rewrite it
 * with `UPDATE_TEMPLATE_SNAPSHOT=1 npm run test:template` and commit it with the change.
 */
const SNAPSHOT = join(__dirname, 'packaged-template.snapshot.json');

/** Keys sorted at every level: two packagings differ in the order the functions' bundles finished. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, nested]) => [key, sortedKeys(nested)]),
  );
}

/**
 * The template without what differs between two packagings of the same configuration and code it does not
 * describe: the artifacts' directory (a timestamp), each function's code hash, and the version resources named
 * after that hash.
 */
function comparableTemplate(template: unknown): unknown {
  const text = JSON.stringify(template)
    .replace(/\/\d+-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\//g, '/<packaged at>/')
    .replace(/"CodeSha256":"[^"]*"/g, '"CodeSha256":"<code hash>"')
    .replace(/LambdaVersion[0-9A-Za-z]+/g, 'LambdaVersion<code hash>');
  return sortedKeys(JSON.parse(text));
}

describe('the packaged template', () => {
  const packaged = comparableTemplate(packagedTemplate());

  it('is the committed snapshot', () => {
    if (process.env.UPDATE_TEMPLATE_SNAPSHOT === '1') {
      writeFileSync(SNAPSHOT, `${JSON.stringify(packaged, null, 2)}\n`);
    }

    expect(packaged).toEqual(JSON.parse(readFileSync(SNAPSHOT, 'utf8')));
  });

  it('compares equal to another packaging of the same configuration, at another time and of other code', () => {
    const original = JSON.stringify(packagedTemplate());
    const repackaged = original
      .replace(/\/\d+-\d{4}-\d\d-\d\dT[\d:.]+Z\//g, '/1700000000000-2023-11-14T22:13:20.000Z/')
      .replace(/"CodeSha256":"[^"]*"/g, '"CodeSha256":"0123456789abcdef="')
      .replace(/LambdaVersion\w+/g, 'LambdaVersionOfOtherCode');

    expect(repackaged).not.toBe(original);
    expect(comparableTemplate(JSON.parse(repackaged))).toEqual(packaged);
  });

  it('notices a changed resource', () => {
    const changed = packagedTemplate();
    const queue = changed.Resources.FunctionFailureQueue;
    if (queue === undefined) throw new Error('no FunctionFailureQueue in the packaged template');
    queue.Properties.MessageRetentionPeriod = Number(queue.Properties.MessageRetentionPeriod) / 2;

    expect(comparableTemplate(changed)).not.toEqual(packaged);
  });
});
