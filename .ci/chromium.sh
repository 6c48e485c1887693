#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from Debian's packages (`chromium`,
# `chromium-driver`) if either is missing: the web gallery tests drive a real browser.
# Needs root (apt-get); does nothing when both are already there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version
/usr/bin/chromedriver --version
