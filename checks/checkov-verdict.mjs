// Reads checkov's JSON report and the repo's skip list: fails on any failed check that is not listed with a
// reason, and on a listed skip that no longer matches anything (a stale skip hides nothing and misleads).
import { readFileSync } from 'node:fs';

const [reportFile, skipsFile] = process.argv.slice(2);
const report = JSON.parse(readFileSync(reportFile, 'utf8'));
const reports = Array.isArray(report) ? report : [report];
const failed = reports.flatMap((r) => r.results?.failed_checks ?? []);
const passed = reports.reduce((sum, r) => sum + (r.summary?.passed ?? 0), 0);
const skips = JSON.parse(readFileSync(skipsFile, 'utf8'));

const key = (check, resource) => `${check} ${resource}`;
const listed = new Map(skips.map((skip) => [key(skip.check, skip.resource), skip]));
const unexplained = failed.filter((f) => !listed.has(key(f.check_id, f.resource)));
const stale = skips.filter(
  (skip) => !failed.some((f) => key(f.check_id, f.resource) === key(skip.check, skip.resource)),
);

for (const skip of skips)
  if (!skip.reason)
    unexplained.push({ check_id: skip.check, resource: `${skip.resource} (skip without a reason)` });
for (const f of unexplained) console.error(`FAILED ${f.check_id} ${f.resource}: ${f.check_name ?? ''}`);
for (const skip of stale)
  console.error(`STALE SKIP ${skip.check} ${skip.resource}: it matches no failure, remove it`);
console.log(
  `checkov: ${passed} passed, ${failed.length - unexplained.length} skipped with a reason, ${unexplained.length} failed`,
);
if (passed === 0 || unexplained.length > 0 || stale.length > 0) process.exit(1);
