#!/usr/bin/env bash
# Attack: an artifact grants execute on a tree the child can also write, so the child writes a program and runs it.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
cmd=("$H/try_write_exec" "$H/try_marker" "$W/prog" /lib64/ld-linux-x86-64.so.2 "$W/m")
art wx --write "$W" --read "$H" --exec "$W" -- "${cmd[@]}"
expect_denied policy-mismatch "exec grant equal to a write grant" R "$T/wx.toml" -- "${cmd[@]}"
check "names the exec field" grep -q "sandbox.exec\[0\]" "$T/err"
check "nothing was written or run" test ! -e "$W/prog" -a ! -e "$W/m"
mkdir -p "$W/sub"
art wx_sub --write "$W/sub" --read "$H" --exec "$W" -- "${cmd[@]}"
expect_denied policy-mismatch "exec grant containing a write grant" R "$T/wx_sub.toml" -- "${cmd[@]}"
check "nothing was written or run (containing)" test ! -e "$W/prog" -a ! -e "$W/m"
# The artifact may opt in by naming the path in exec_writable.
gx_init "$T/wx_ok.toml" --write "$W" --read "$H" --exec "$W" -- "${cmd[@]}" || bad "init wx_ok"
sed -i "s|^exec = .*|&\nexec_writable = [\"$W\"]|" "$T/wx_ok.toml"
"$GX" sign -k "$T/alice.key" "$T/wx_ok.toml" >/dev/null 2>&1 || bad "sign wx_ok"
run R "$T/wx_ok.toml" -- "${cmd[@]}"
check "opted in by name: the written program runs (rc $RC, out '$(head -1 "$T/out")', err $(head -c 200 "$T/err"))" test -e "$W/m"
finish
