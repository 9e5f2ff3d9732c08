#!/usr/bin/env bash
# The run report in a real browser: a tiny run's report.html is rendered by
# headless chromium, and the screenshot must show the page with its pictures
# and plots, without any network.
source "$(dirname "$0")/lib.sh"
need_mnist

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "chromium not found: this test renders the report in it; scripts/test.sh installs it" \
         "(scripts/deps.sh --test, or apt-get install chromium)" >&2
    exit 1
fi
PNG_STATS=$AE_BUILD/tests/png_stats

# shot HTML PNG WxH: a screenshot of the page in a window of that size
shot() {
    local profile
    profile=$(mktemp -d "$WORK/chromium.XXXXXX")
    timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$profile" --screenshot="$2" --window-size="$3" \
        "file://$1" >"$WORK/chromium.log" 2>&1 || fail "chromium exited $?: $(tail -5 "$WORK/chromium.log")"
    rm -rf "$profile"
}

"$AETRAIN" --config "$AE_SOURCE/configs/vae2d.json" "${MNIST_SET[@]}" --set data.train_limit=2000 \
    --set data.test_limit=500 --set train.batch_size=100 --epochs 1 --threads 1 --out run --quiet \
    || fail "aetrain exited $?"
html=$WORK/run/report.html
assert_file "$html"

# --- self-contained: no URL of any kind, images embedded, plots inline ---
grep -Eqi 'https?://|src="//|url\(' "$html" && fail "report.html refers to the network" || ok
grep -qi '<script' "$html" && fail "report.html has a script" || ok
[ "$(grep -o 'src="data:image/png;base64,' "$html" | wc -l)" -eq 3 ] && ok \
    || fail "expected 3 embedded PNGs (recon, samples, manifold)"
[ "$(grep -o '<svg ' "$html" | wc -l)" -eq 2 ] && ok || fail "expected 2 inline SVGs (loss, latents)"
grep -q 'Latent codes of the test set' "$html" && ok || fail "latent scatter missing"
grep -q '<th>epoch 1</th>' "$html" && ok || fail "metrics table missing"
grep -q '&quot;latent&quot;:' "$html" && ok || fail "spec missing"
# the embedded bytes are the run's pictures, and how much the page scales each
"$PY" - "$html" run >embedded.txt <<'PY' || fail "embedded images: $(cat embedded.txt)"
import base64, re, sys
html = open(sys.argv[1]).read()
found = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)"', html)
assert len(found) == 3, len(found)
for (b64, width), name in zip(found, ["recon", "samples", "manifold"]):
    data = base64.b64decode(b64, validate=True)
    assert data == open("%s/%s.png" % (sys.argv[2], name), "rb").read(), name + " differs"
    natural = int.from_bytes(data[16:20], "big")
    assert int(width) % natural == 0, (name, width, natural)
    print(name, int(width) // natural)
PY
ok

# --- the screenshot: a PNG of the window size, and not blank ---
shot "$html" shot.png 1200,2000
read -r w h distinct dark <<<"$("$PNG_STATS" shot.png)" || fail "screenshot unreadable"
[ "$w $h" = "1200 2000" ] && ok || fail "screenshot size $w x $h"
[ "${distinct:-0}" -gt 200 ] && ok || fail "screenshot has only ${distinct:-0} colours: blank page?"
[ "${dark:-0}" -gt $((1200 * 2000 / 10)) ] && ok || fail "screenshot has ${dark:-0} dark pixels: blank page?"

# --- every picture decoded and drawn: the grids' mid-grey (128) borders ---
# The whole page in one tall window; each embedded grid is drawn at a whole
# scale with pixelated rendering, so its 128-grey pixels appear exactly.
shot "$html" tall.png 1200,4400
expected=0
while read -r name scale; do
    n=$("$PNG_STATS" "run/$name.png" 808080 | cut -d' ' -f5)
    expected=$((expected + n * scale * scale))
done <embedded.txt
read -r _ _ _ _ grey blue orange <<<"$("$PNG_STATS" tall.png 808080 1f77b4 ff7f0e)"
[ "$expected" -gt 10000 ] && ok || fail "the pictures have only $expected mid-grey pixels"
[ "$grey" -ge $((expected * 97 / 100)) ] && ok \
    || fail "screenshot shows $grey mid-grey pixels of the pictures' $expected: an image did not render"
# the inline SVGs drew their lines and points in the palette's blue and orange
[ "$blue" -gt 100 ] && [ "$orange" -gt 100 ] && ok || fail "plots not drawn (blue $blue, orange $orange)"

# The same page with the image data broken: the grey must vanish, so the
# count above really measures the images.
sed 's|data:image/png;base64,|data:image/png;base64,AAAA|g' "$html" >broken.html
shot "$WORK/broken.html" broken.png 1200,4400
read -r _ _ _ _ grey_broken <<<"$("$PNG_STATS" broken.png 808080)"
[ "$grey_broken" -lt $((expected / 20)) ] && ok \
    || fail "broken images still show $grey_broken mid-grey pixels"

finish
