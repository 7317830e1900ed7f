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

# The Temporal engine is tested live: a real Temporal server, built from Go modules once per
# machine and started here, unless TEMPORAL_ADDRESS already points at one. Without Go the live
# suites skip themselves (and say so); CI (CI=true or WAYPOST_REQUIRE_TEMPORAL=1) never skips.
require_temporal=false
if [ "${CI:-}" = "true" ] || [ "${WAYPOST_REQUIRE_TEMPORAL:-}" = "1" ]; then require_temporal=true; fi
if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  temporal_dir="$(pwd)/.data/temporal-test"
  echo "==> Temporal server (scripts/temporal-server.sh)"
  set +e
  started="$(scripts/temporal-server.sh start "$temporal_dir")"
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then
    export TEMPORAL_ADDRESS="${started#TEMPORAL_ADDRESS=}"
    trap 'scripts/temporal-server.sh stop "$temporal_dir"' EXIT
    echo "    real Temporal server on $TEMPORAL_ADDRESS"
  elif [ $rc -eq 3 ] && [ "$require_temporal" = false ]; then
    echo "==> SKIPPING the live Temporal suites: no Go on this machine to build the server."
    echo "    Install Go (1.22+) and rerun, or start a server and run: TEMPORAL_ADDRESS=host:7233 npm test"
  else
    echo "==> FAILED: the Temporal server could not be built or started (see above); the live Temporal suites cannot run."
    exit 1
  fi
else
  echo "==> Temporal server: $TEMPORAL_ADDRESS (TEMPORAL_ADDRESS)"
fi

# Typecheck, lint and the build at once (each is single-threaded); any failure stops here, as before.
echo "==> typecheck, lint and build"
npm run -s typecheck >test-results/typecheck.log 2>&1 & typecheck_pid=$!
npm run -s lint >test-results/lint.log 2>&1 & lint_pid=$!
npx remix build >test-results/build.log 2>&1 & build_pid=$!
checks_failed=false
for check in typecheck:$typecheck_pid lint:$lint_pid build:$build_pid; do
  name="${check%%:*}"
  if wait "${check#*:}"; then
    # Warnings stay visible; the build's own chatter does not.
    if [ "$name" != build ]; then cat "test-results/$name.log"; fi
    echo "    $name: ok"
  else
    echo "==> $name FAILED:"; cat "test-results/$name.log"; checks_failed=true
  fi
done
[ "$checks_failed" = false ] || exit 1
echo "==> unit and integration tests"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=test-results/unit.json || status=$?
echo "==> browser tests (Chromium)"
npx vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json --outputFile=test-results/e2e.json || status=$?
echo "==> live Temporal suites (real server: scenarios, operator actions, crash test, Temporal-mode browser test)"
npx vitest run --config vitest.live.config.ts --reporter=default --reporter=json --outputFile=test-results/live.json || status=$?

node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["test-results/unit.json", "test-results/e2e.json", "test-results/live.json"]) {
  if (!fs.existsSync(f)) { failed++; continue; }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  // A file that failed to load has no failed test of its own: count it once.
  failed += r.testResults.filter((t) => t.status === "failed" && !t.assertionResults.some((a) => a.status === "failed")).length;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
'
exit $status
