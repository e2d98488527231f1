#!/usr/bin/env bash
# Debian packages xxgk-watch needs at run time and in its tests. Idempotent: installs only what is missing.
set -euo pipefail
packages=(
  antiword catdoc          # .doc / .wps text extraction
  chromium-headless-shell fonts-noto-cjk  # Debian's headless Chromium: JavaScript listings, web-UI tests,
                                          # screenshots of Chinese pages
  postgresql               # catalog tests on a real PostgreSQL server
  redis-server             # distributed crawl (scrapy-redis)
  poppler-utils            # pdftoppm, for looking at fixture PDFs
  libreoffice-writer-nogui # soffice: last .doc/.wps fallback of the parser, and the DOC test fixtures
  libgl1 libglib2.0-0      # OpenCV (under RapidOCR, the OCR of scanned pages) loads these shared libraries
  systemd                  # systemd-analyze: tests check the README's timer (there already where systemd boots)
  tesseract-ocr tesseract-ocr-chi-sim  # only benchmarks/ocr.py: the OCR engine RapidOCR was measured against
  util-linux               # runuser: the tests' PostgreSQL runs as postgres under root (Essential; listed for test_install)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
