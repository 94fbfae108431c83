# Attack: under network = "tcp" with no bind_tcp port, listen() without bind() autobinds an ephemeral port on 0.0.0.0 and accepts outside clients.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
art lis --net 443 -- "$H/try_listen"
run R "$T/lis.toml" -- "$H/try_listen"
check "listen() refused without a bind grant ($(head -1 "$T/out"); $(head -c 200 "$T/err"))" test "$(head -1 "$T/out")" = EPERM
refute "no port was opened" grep -q '^ok' "$T/out"
# control: outside gx the helper does get a listening port
check "control: listen() without bind outside gx ($("$H/try_listen"))" sh -c "'$H/try_listen' | grep -q '^ok '"
finish
