#!/bin/sh
# The browser the e2e tests drive (tests/e2e/conftest.py): Debian's chromium at
# /usr/bin/chromium. Installed from Debian when it is missing and we may (root, apt-get);
# otherwise a clear message and a failure. Never a downloaded browser build.
# OMS_CHROMIUM overrides the path checked (tests of this script use it).
chromium="${OMS_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium (the e2e tests drive $chromium)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || exit 1
  [ -x "$chromium" ] && exit 0
  echo "apt-get installed chromium but $chromium is still missing" >&2
  exit 1
fi
echo "the e2e tests need Chromium at $chromium: install Debian's chromium" \
  "(sudo apt-get install chromium), then run make test again" >&2
exit 1
