#!/usr/bin/env bash
# The whole test suite: typecheck, lint, unit + integration (Vitest), browser tests (Chromium).
# Runs on PostgreSQL when DATABASE_URL is set, on embedded PGlite otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${DATABASE_URL:-}" ]; then
  echo "==> test database: PostgreSQL ($(node -e 'const u=new URL(process.env.DATABASE_URL);console.log(u.host+u.pathname)'))"
else
  echo "==> test database: PGlite (embedded; set DATABASE_URL to run on PostgreSQL)"
fi

# Browser tests drive Debian's Chromium; CJK and emoji fonts make screenshots legible (node icons are emoji).
chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
need=()
[ -x "$chromium_path" ] || need+=(chromium)
fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null || need+=(fonts-noto-cjk)
fc-list 2>/dev/null | grep -i "noto color emoji" >/dev/null || need+=(fonts-noto-color-emoji)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing ${need[*]} (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif [[ " ${need[*]} " == *" chromium "* ]]; then
    echo "Chromium is missing at $chromium_path and cannot be installed without root."
    echo "Install it with: sudo apt-get install -y chromium fonts-noto-cjk   (or set CHROMIUM_PATH)"
    exit 1
  fi
fi

mkdir -p test-results
echo "==> typecheck"; npm run -s typecheck
echo "==> lint"; npm run -s lint
echo "==> build"; npx remix build >/dev/null
echo "==> unit and integration tests"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=test-results/unit.json || status=$?
echo "==> browser tests (Chromium)"
npx vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json --outputFile=test-results/e2e.json || status=$?

node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["test-results/unit.json", "test-results/e2e.json"]) {
  if (!fs.existsSync(f)) { failed++; continue; }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  // A file that failed to load has no failed test of its own: count it once.
  failed += r.testResults.filter((t) => t.status === "failed" && !t.assertionResults.some((a) => a.status === "failed")).length;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
'
exit $status
