#!/usr/bin/env bash
# The headless browser of the UI test (tests/system/test_ui_browser.py): Debian's chromium and
# chromium-driver. Idempotent: does nothing when both are installed; installs them with apt-get as root;
# otherwise says what to do and exits 1.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium and chromium-driver (Debian) for the UI browser test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
  command -v chromium >/dev/null
else
  echo "The UI browser test needs chromium and chromedriver:" >&2
  echo "  Debian/Ubuntu: sudo apt-get install chromium chromium-driver" >&2
  exit 1
fi
