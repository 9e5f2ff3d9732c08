#!/usr/bin/env bash
# docs/errors.md is what scripts/errors-doc.sh generates from the bad-input
# tests: regenerate and compare (digits masked, since losses and CRCs in the
# messages may differ in the last places on another BLAS or CPU; CRC32s are
# 8 hex digits, which may hold no digit at all).
source "$(dirname "$0")/lib.sh"
need_mnist

AE_BUILD=$AE_BUILD bash "$AE_SOURCE/scripts/errors-doc.sh" "$WORK/errors.md" 2>/dev/null \
    || fail "scripts/errors-doc.sh failed"
mask() { sed -E 's/\b[0-9a-f]{8}\b/CRC/g; s/[0-9]+/N/g' "$1"; }
if diff <(mask "$AE_SOURCE/docs/errors.md") <(mask "$WORK/errors.md") >errors.diff; then ok; else
    fail "docs/errors.md is out of date: run scripts/errors-doc.sh; differences: $(cat errors.diff)"
fi
finish
