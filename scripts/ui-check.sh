#!/usr/bin/env bash
# Runs the UI's unit tests and checks that the committed UI bundle (web/ui/static) is what web/ui/src builds to with the
# pinned dependencies (package-lock.json), and type-checks the sources. Installs
# web/ui/node_modules (npm ci), which the browser suite uses too. Without node/npm it says so
# and stops: on CI (CI=true) that is a failure.
set -euo pipefail
cd "$(dirname "$0")/../web/ui"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "ui-check: node/npm not found (Debian nodejs, npm; scripts/deps.sh installs them): bundle not checked"
	[ "${CI:-}" = "true" ] && exit 1
	exit 0
fi
# --ignore-scripts: esbuild's postinstall only checks its binary (an optional dependency);
# puppeteer-core downloads nothing.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
npm run --silent typecheck
# Unit tests of the pure helpers (node's test runner).
npm test --silent
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OUTDIR="$out" node build.mjs
if ! diff -r "$out" static >/dev/null; then
	echo "ui-check: web/ui/static differs from what web/ui/src builds to; run 'make ui' and commit web/ui/static:"
	diff -rq "$out" static || true
	exit 1
fi
js=$(gzip -9 -c static/app.js | wc -c)
css=$(gzip -9 -c static/app.css | wc -c)
html=$(gzip -9 -c static/index.html | wc -c)
total=$((js + css + html))
echo "ui-check: bundle matches the sources; ${total} bytes gzipped (app.js ${js}, app.css ${css}, index.html ${html}; budget 409600)"
if [ "$total" -gt 409600 ]; then
	echo "ui-check: the bundle is over the 400 KB gzipped budget"
	exit 1
fi
