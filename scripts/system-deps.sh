#!/usr/bin/env bash
# Debian packages kb-server needs; installs only what is missing. `--test` adds the test tools.
#   tesseract-ocr*     OCR of scans and images (English and Simplified Chinese)
#   poppler-utils      PDF page rendering for OCR
#   libmagic1          file-type sniffing used by unstructured
#   chromium           (--test) the browser the UI tests drive; Playwright never downloads one
#   fonts-noto-cjk     (--test) Chinese text in generated test images and in the browser
set -euo pipefail
packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim poppler-utils libmagic1)
[ "${1:-}" = "--test" ] && packages+=(chromium fonts-noto-cjk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
