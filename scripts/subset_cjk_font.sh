#!/usr/bin/env bash
# Rebuilds assets/fonts/DroidSansFallback-GB2312-Big5.ttf, the chart's font for Chinese text:
# Droid Sans Fallback (Debian's fonts-droid-fallback, Apache-2.0) cut down to every character of
# GB2312 and Big5, plus CJK punctuation and the full-width forms, without hinting, vertical
# metrics or OpenType layout tables (the chart's rasteriser, ab_glyph, uses none of them).
# assets/fonts/README.md records the versions this was run with and the result's SHA-256.
#
# Usage: scripts/subset_cjk_font.sh [SOURCE.ttf]
#   SOURCE defaults to /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf, which
#   `apt-get install fonts-droid-fallback` provides (the script installs it when run as root).
# fonttools comes from PyPI into a throwaway venv under ${TMPDIR:-/tmp}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCE="${1:-/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf}"
OUT="$ROOT/assets/fonts/DroidSansFallback-GB2312-Big5.ttf"
FONTTOOLS_VERSION=4.68.0

if [[ ! -f "$SOURCE" ]]; then
  if [[ $EUID -eq 0 ]]; then
    apt-get install -y fonts-droid-fallback
  else
    echo "subset_cjk_font: $SOURCE is missing; run: sudo apt-get install fonts-droid-fallback" >&2
    exit 1
  fi
fi

VENV="${TMPDIR:-/tmp}/idc-fonttools-$FONTTOOLS_VERSION"
if [[ ! -x "$VENV/bin/pyftsubset" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "fonttools==$FONTTOOLS_VERSION"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The code points: every character Python's gb2312 and big5 codecs decode (7,445 and 13,706 of
# them; 16,267 together, 15,441 of them ideographs), plus CJK Symbols and Punctuation and the
# Halfwidth and Fullwidth Forms blocks. Latin text is drawn with DejaVu Sans, so it is not needed.
"$VENV/bin/python" - >"$WORK/unicodes.txt" <<'EOF'
def decodable(codec, leads, trails):
    out = set()
    for lead in leads:
        for trail in trails:
            try:
                text = bytes([lead, trail]).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                out.add(ord(text))
    return out

chars = decodable("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
chars |= decodable("big5", range(0xA1, 0xFA), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])
chars |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
print("\n".join(f"U+{c:04X}" for c in sorted(chars)))
EOF

"$VENV/bin/pyftsubset" "$SOURCE" \
  --unicodes-file="$WORK/unicodes.txt" \
  --no-hinting \
  --no-layout-closure \
  --drop-tables+=GSUB,GPOS,GDEF,vhea,vmtx,gasp \
  --name-IDs='*' \
  --no-recalc-timestamp \
  --output-file="$WORK/subset.ttf"
mv "$WORK/subset.ttf" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes, sha256 $(sha256sum "$OUT" | cut -d' ' -f1))"
