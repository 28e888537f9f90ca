// Writes each IAM policy of a packaged template, resolved as the stage would deploy it, to a directory for the IAM
// policy linter: `<dir>/identity/<role>.<policy>.json` and `<dir>/resource/<logical id>.json`.
// Usage: tsx checks/write-iam-policies.ts <template.json> <stage> <dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { templatePolicies } from './iam-policies';

const [templateFile, stage, dir] = process.argv.slice(2);
if (templateFile === undefined || stage === undefined || dir === undefined) {
  throw new Error('usage: tsx checks/write-iam-policies.ts <template.json> <stage> <dir>');
}
const policies = templatePolicies(JSON.parse(readFileSync(templateFile, 'utf8')), stage);
for (const { name, kind, policy } of policies) {
  mkdirSync(join(dir, kind), { recursive: true });
  writeFileSync(join(dir, kind, `${name}.json`), `${JSON.stringify(policy, null, 2)}\n`);
}
console.log(`iam policies: ${policies.length} written to ${dir}`);
