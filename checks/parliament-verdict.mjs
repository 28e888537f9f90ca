// Reads parliament's findings (one JSON object a line) and the repo's skip list: fails on any finding that no skip
// explains, and on a skip that explains no finding (a stale skip hides nothing and misleads). A skip names the
// finding's `issue`, the policy `file` it is in (its name, written by checks/write-iam-policies.ts) and, for a
// finding about actions, every `action` of its detail; each has its reason.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [findingsFile, skipsFile, policyCount] = process.argv.slice(2);
const findings = readFileSync(findingsFile, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line));
const skips = JSON.parse(readFileSync(skipsFile, 'utf8'));

const actionsOf = (finding) => [
  ...new Set([finding.detail].flat().flatMap((entry) => (entry?.action === undefined ? [] : [entry.action]))),
];
const explains = (skip, finding) =>
  skip.issue === finding.issue &&
  skip.file === basename(String(finding.location?.filepath ?? '')) &&
  (skip.actions === undefined || actionsOf(finding).every((action) => skip.actions.includes(action)));

const unexplained = findings.filter((finding) => !skips.some((skip) => explains(skip, finding)));
const stale = skips.filter((skip) => !findings.some((finding) => explains(skip, finding)));
for (const skip of skips)
  if (!skip.reason) stale.push({ ...skip, issue: `${skip.issue} (skip without a reason)` });
for (const finding of unexplained) {
  console.error(
    `FAILED ${finding.issue} ${basename(String(finding.location?.filepath ?? ''))}: ${finding.title} ${JSON.stringify(finding.detail)}`,
  );
}
for (const skip of stale)
  console.error(`STALE SKIP ${skip.issue} ${skip.file}: it explains no finding, remove it`);
console.log(
  `parliament: ${policyCount} policies, ${findings.length - unexplained.length} findings skipped with a reason, ${unexplained.length} failed`,
);
if (Number(policyCount) === 0 || unexplained.length > 0 || stale.length > 0) process.exit(1);
