# Attack: re-spell a valid artifact signature without the key (its high-S twin (r, n-s), or BER encodings of the same (r, s)) and have gx accept it.
# Every spelling but gx's own (strict DER, low S) must be invalid-signature,
# for gx verify and gx run alike, and the command must never run.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
MANGLE=$H/sig_mangle
MARK=$H/try_marker

art ok --max-uses 100 --write "$W" -- "$MARK" "$W/m"
V() { "$GX" verify --trust "$TR" "$@"; }
expect_rc 0 "the genuine artifact verifies" V "$T/ok.toml"
expect_rc 0 "the genuine artifact runs" R "$T/ok.toml" -- "$MARK" "$W/m"
check "control: the command ran" test -e "$W/m"
rm -f "$W/m"

sig=$(sed -n 's/^value = "\(.*\)"$/\1/p' "$T/ok.toml")
check "one signature value found" test -n "$sig"
base64 -d <<<"$sig" >"$T/sig.der"
# gx signs low S only: normalising its signature changes nothing.
check "gx's own signature is already low S" cmp -s "$T/sig.der" <("$MANGLE" low-s <"$T/sig.der")

for mode in high-s ber-len pad-r trailing; do
  "$MANGLE" "$mode" <"$T/sig.der" >"$T/$mode.der" || bad "sig_mangle $mode"
  refute "$mode spelling differs from the original" cmp -s "$T/sig.der" "$T/$mode.der"
  # Same body, same key id, only the signature value re-spelled.
  sed "s|^value = \".*\"\$|value = \"$(base64 -w0 "$T/$mode.der")\"|" "$T/ok.toml" >"$T/$mode.toml"
  expect_denied invalid-signature "gx verify refuses the $mode spelling" V "$T/$mode.toml"
  expect_denied invalid-signature "gx run refuses the $mode spelling" R "$T/$mode.toml" -- "$MARK" "$W/m"
  if [ -e "$W/m" ]; then bad "$mode: the command ran"; rm -f "$W/m"; else ok; fi
done
# The high-S twin is a mathematically valid ECDSA signature (openssl accepts
# it): gx refuses it by its low-S rule, and says so.
{ "$GX" verify --print-payload "$T/ok.toml" >"$T/payload.bin"; } 2>/dev/null
check "openssl accepts the high-S twin (so the refusal is gx's rule)" \
  openssl dgst -sha256 -verify "$T/alice.pub" -signature "$T/high-s.der" -out /dev/null "$T/payload.bin"
V "$T/high-s.toml" >"$T/out" 2>"$T/err"
check "the denial names the high S value" grep -q "high S" "$T/err"
finish
