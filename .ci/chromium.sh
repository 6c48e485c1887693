#!/usr/bin/env bash
# The web gallery tests drive a real headless browser: a Chromium (or Chrome) and its
# chromedriver. Uses the ones on the PATH; if either is missing, installs Debian's packages
# (`chromium`, `chromium-driver`) when this is Debian and we are root, and otherwise stops with
# one line saying what to install.
set -euo pipefail
has_browser() {
  command -v chromium || command -v chromium-browser || command -v google-chrome ||
    command -v google-chrome-stable
}
if { [ -n "${MINTBOT_CHROMIUM:-}" ] || has_browser >/dev/null; } &&
  { [ -n "${MINTBOT_CHROMEDRIVER:-}" ] || command -v chromedriver >/dev/null; }; then
  exit 0
fi
if [ "${EUID}" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "make test needs Chromium (or Chrome) and chromedriver on the PATH (or MINTBOT_CHROMIUM" \
    "and MINTBOT_CHROMEDRIVER): install them, e.g. 'sudo apt-get install chromium" \
    "chromium-driver' on Debian" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
chromium --version
chromedriver --version
