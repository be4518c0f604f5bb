#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Idempotent and quiet when all is there.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
# The web UI: node and npm build and check the bundle (make ui, make ui-check); chromium runs
# the browser suite (web/ui/browser_test.go).
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "installing Debian packages: ${need[*]}"
	$SUDO apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# helm for the chart tests (deploy/helm): built from the Go module proxy into the repository's bin/.
HELM_VERSION=v4.3.2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# (go install leaves `helm version` without the patch version; the module version says it.)
if ! go version -m "$REPO/bin/helm" 2>/dev/null | grep -qE "^\s+mod\s+helm.sh/helm/v4\s+${HELM_VERSION}\s"; then
	echo "installing helm ${HELM_VERSION} into bin/ (go install helm.sh/helm/v4/cmd/helm@${HELM_VERSION})"
	GOBIN="$REPO/bin" go install "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
fi
