#!/usr/bin/env bash
# Packages the stack offline and checks the CloudFormation template it deploys: cfn-lint (zero errors, zero
# warnings), checkov (checks/checks.txt; skips only as listed, with reasons, in checks/checkov-skips.json), and
# parliament on every IAM policy in it, resolved as deployed (findings skipped only as listed, with reasons, in
# checks/parliament-skips.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-emulator.sh
bash scripts/setup-checks.sh

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  npx serverless package --stage ci --region us-east-1 --package "$out" >"$out/package.log" 2>&1 ||
  { cat "$out/package.log"; exit 1; }
template="$out/cloudformation-template-update-stack.json"

.venv/bin/cfn-lint "$template"
echo "cfn-lint: no errors, no warnings"

.venv-checkov/bin/checkov -f "$template" --framework cloudformation --quiet --compact --output json \
  --check "$(tr -d '[:space:]' < checks/checks.txt)" >"$out/checkov.json" 2>"$out/checkov.log" || true
node checks/checkov-verdict.mjs "$out/checkov.json" checks/checkov-skips.json

npx tsx checks/write-iam-policies.ts "$template" ci "$out/policies"
.venv-checkov/bin/parliament --directory "$out/policies" --include_policy_extension .json --json \
  >"$out/parliament.jsonl" 2>"$out/parliament.log" || true
[ -s "$out/parliament.log" ] && { cat "$out/parliament.log"; exit 1; }
node checks/parliament-verdict.mjs "$out/parliament.jsonl" checks/parliament-skips.json \
  "$(find "$out/policies" -name '*.json' | wc -l)"
