# fish completion for gx(1).
# Installed as share/fish/vendor_completions.d/gx.fish.

# The non-option words typed so far after "gx" (stops at "--").
function __gx_words
    set -l t (commandline -opc)
    set -e t[1]
    for w in $t
        test "$w" = --; and return
        string match -q -- '-*' $w; or echo $w
    end
end

# __gx_is CMD [SUB]: completing for gx CMD [SUB].
function __gx_is
    set -l w (__gx_words)
    test (count $w) -ge (count $argv); or return 1
    for i in (seq (count $argv))
        test "$w[$i]" = "$argv[$i]"; or return 1
    end
end

function __gx_no_cmd
    test (count (__gx_words)) -eq 0
end

# __gx_needs_sub CMD: at gx CMD, which takes a nested subcommand not yet given.
function __gx_needs_sub
    set -l w (__gx_words)
    test (count $w) -eq 1; and test "$w[1]" = "$argv[1]"
end

# The syscall group names, from the first block of `gx profiles`.
function __gx_groups
    set -l on 0
    for line in (command gx profiles 2>/dev/null)
        if string match -q 'Syscall groups*' -- $line
            set on 1
            continue
        end
        test -z "$line"; and break
        test $on = 1; and string replace -r ' .*' '' -- (string trim -- $line)
    end
end

complete -c gx -f
complete -c gx -n __gx_no_cmd -s h -l help -d 'Print help'
complete -c gx -n __gx_no_cmd -s V -l version -d 'Print the version'

complete -c gx -n __gx_no_cmd -a keygen -d 'Create an ECDSA P-256 key pair'
complete -c gx -n __gx_no_cmd -a trust -d 'Manage the trust store of approver keys'
complete -c gx -n __gx_no_cmd -a init -d 'Write an unsigned artifact for one invocation'
complete -c gx -n __gx_no_cmd -a sign -d 'Sign or co-sign an artifact'
complete -c gx -n __gx_no_cmd -a verify -d 'Check an artifact'
complete -c gx -n __gx_no_cmd -a run -d 'Run a command through an artifact, confined'
complete -c gx -n __gx_no_cmd -a log -d 'Verify, checkpoint and show the receipt log'
complete -c gx -n __gx_no_cmd -a revoke -d 'Revoke an artifact or a key'
complete -c gx -n __gx_no_cmd -a profiles -d 'List syscall groups'
complete -c gx -n __gx_no_cmd -a state -d 'Maintain the state directory'
complete -c gx -n __gx_no_cmd -a learn -d 'Draft an artifact from an observed run'
complete -c gx -n __gx_no_cmd -a broker -d 'Serve gx run --broker requests'

# keygen
complete -c gx -n '__gx_is keygen' -s o -l output -r -F -d 'Path prefix of the key files'
complete -c gx -n '__gx_is keygen' -s f -l force -d 'Replace existing key files'

# trust
complete -c gx -n '__gx_needs_sub trust' -a add -d 'Trust a public key'
complete -c gx -n '__gx_needs_sub trust' -a list -d 'List trusted keys and the threshold'
complete -c gx -n '__gx_needs_sub trust' -a remove -d 'Stop trusting a key'
complete -c gx -n '__gx_needs_sub trust' -a threshold -d 'Set the signature threshold'
complete -c gx -n '__gx_is trust add' -k -a '(__fish_complete_suffix .pub)'
complete -c gx -n '__gx_is trust add' -s n -l name -x -d 'Principal name of the key owner'
complete -c gx -n '__gx_is trust add' -l not-before -x -d 'Key valid from (RFC 3339 UTC)'
complete -c gx -n '__gx_is trust add' -l not-after -x -d 'Key valid until (RFC 3339 UTC)'
complete -c gx -n '__gx_is trust list' -l json -d 'Machine-readable output'
complete -c gx -n '__gx_is trust' -l trust -x -a '(__fish_complete_suffix .toml)' -d 'Trust store file'

# init
complete -c gx -n '__gx_is init' -s o -l output -x -a '(__fish_complete_suffix .toml)' -d 'Artifact file to write'
complete -c gx -n '__gx_is init' -s f -l force -d 'Replace an existing output file'
complete -c gx -n '__gx_is init' -l ttl -x -a '5m 15m 1h 1d 1w' -d 'Validity from now'
complete -c gx -n '__gx_is init' -l not-before -x -d 'Start of validity (RFC 3339 UTC)'
complete -c gx -n '__gx_is init' -l not-after -x -d 'End of validity (RFC 3339 UTC)'
complete -c gx -n '__gx_is init' -l max-uses -x -d 'How many runs it authorizes'
complete -c gx -n '__gx_is init' -l issuer -x -d 'Who requests it'
complete -c gx -n '__gx_is init' -l reason -x -d 'Why it is needed'
complete -c gx -n '__gx_is init' -l ticket -x -d 'Ticket or change reference'
complete -c gx -n '__gx_is init' -l env -x -a '(set -n)' -d 'Pass NAME, or pin NAME=VALUE'
complete -c gx -n '__gx_is init' -l read -r -F -d 'Extra readable path'
complete -c gx -n '__gx_is init' -l write -r -F -d 'Writable path'
complete -c gx -n '__gx_is init' -l exec -r -F -d 'Extra executable path'
complete -c gx -n '__gx_is init' -l group -x -a 'basic-io filesystem permissions network process signals time ipc' -d 'Extra syscall group'
complete -c gx -n '__gx_is init' -l net -x -a 'none 443 80,443' -d 'none or TCP ports'
complete -c gx -n '__gx_is init' -l pin -r -F -d 'Pin the SHA-256 of a file'
complete -c gx -n '__gx_is init' -l delegate -r -F -d 'Public key that may sign children'
complete -c gx -n '__gx_is init' -l delegate-exec -x -a '(__fish_complete_command)' -d 'Program children may run'
complete -c gx -n '__gx_is init' -l nested-runs -d 'The command may ask gx for nested runs of its children'
complete -c gx -n '__gx_is init' -l max-depth -x -d 'Levels of descendants allowed'
complete -c gx -n '__gx_is init' -l parent -r -F -d 'Parent artifact file or digest'
complete -c gx -n '__gx_is init' -l run-as -x -a '(__fish_complete_users)' -d 'Run the command as USER[:GROUP]'
complete -c gx -n '__gx_is init' -l no-bind-user -d 'Do not bind to the current uid'
complete -c gx -n '__gx_is init' -l no-bind-host -d 'Do not bind to this host'

# learn
complete -c gx -n '__gx_is learn' -s o -l output -x -a '(__fish_complete_suffix .toml)' -d 'Artifact file to write'
complete -c gx -n '__gx_is learn' -s f -l force -d 'Replace an existing output file'
complete -c gx -n '__gx_is learn' -l keep-failed -d 'Write the artifact even if the command failed'
complete -c gx -n '__gx_is learn' -l profile-only -d 'Write only the learned [sandbox] table'
complete -c gx -n '__gx_is learn' -l allow-dangerous -d 'Also allow dangerous syscalls the run used'
complete -c gx -n '__gx_is learn' -l exact-syscalls -d 'Name every syscall outside default'
complete -c gx -n '__gx_is learn' -l ttl -x -a '5m 15m 1h 1d 1w' -d 'Validity from now'
complete -c gx -n '__gx_is learn' -l not-before -x -d 'Start of validity (RFC 3339 UTC)'
complete -c gx -n '__gx_is learn' -l not-after -x -d 'End of validity (RFC 3339 UTC)'
complete -c gx -n '__gx_is learn' -l max-uses -x -d 'How many runs it authorizes'
complete -c gx -n '__gx_is learn' -l issuer -x -d 'Who requests it'
complete -c gx -n '__gx_is learn' -l reason -x -d 'Why it is needed'
complete -c gx -n '__gx_is learn' -l ticket -x -d 'Ticket or change reference'
complete -c gx -n '__gx_is learn' -l env -x -a '(set -n)' -d 'Pass NAME, or pin NAME=VALUE'
complete -c gx -n '__gx_is learn' -l pin -r -F -d 'Pin the SHA-256 of a file'
complete -c gx -n '__gx_is learn' -l parent -x -d 'Parent artifact digest'
complete -c gx -n '__gx_is learn' -l run-as -x -a '(__fish_complete_users)' -d 'Run the command as USER[:GROUP]'
complete -c gx -n '__gx_is learn' -l trust -x -a '(__fish_complete_suffix .toml)' -d 'Trust store (never learned)'
complete -c gx -n '__gx_is learn' -l state -x -a '(__fish_complete_directories)' -d 'State directory (never learned)'
complete -c gx -n '__gx_is learn' -l no-bind-user -d 'Do not bind to the current uid'
complete -c gx -n '__gx_is learn' -l no-bind-host -d 'Do not bind to this host'

# sign
complete -c gx -n '__gx_is sign' -k -a '(__fish_complete_suffix .toml)'
complete -c gx -n '__gx_is sign' -s k -l key -x -a '(__fish_complete_suffix .key)' -d 'Private key file'
complete -c gx -n '__gx_is sign' -s o -l output -x -a '(__fish_complete_suffix .toml)' -d 'Write the signed artifact here'

# verify
complete -c gx -n '__gx_is verify' -k -a '(__fish_complete_suffix .toml)'
complete -c gx -n '__gx_is verify' -l trust -x -a '(__fish_complete_suffix .toml)' -d 'Trust store file'
complete -c gx -n '__gx_is verify' -l revocations -x -a '(__fish_complete_suffix .toml)' -d 'Revocation list'
complete -c gx -n '__gx_is verify' -l state -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c gx -n '__gx_is verify' -l parent -r -F -d 'Ancestor artifact file or directory'
complete -c gx -n '__gx_is verify' -l json -d 'Print the decision as JSON'
complete -c gx -n '__gx_is verify' -l print-payload -d 'Write the exact signed bytes'
complete -c gx -n '__gx_is verify' -l print-signature -x -d 'Write the DER signature of KEYID'

# run
complete -c gx -n '__gx_is run' -k -a '(__fish_complete_suffix .toml)'
complete -c gx -n '__gx_is run' -l trust -x -a '(__fish_complete_suffix .toml)' -d 'Trust store file'
complete -c gx -n '__gx_is run' -l revocations -x -a '(__fish_complete_suffix .toml)' -d 'Revocation list'
complete -c gx -n '__gx_is run' -l state -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c gx -n '__gx_is run' -l receipt-key -x -a '(__fish_complete_suffix .key)' -d 'Receipt signing key'
complete -c gx -n '__gx_is run' -l report -r -F -d 'Write the JSON report to this file'
complete -c gx -n '__gx_is run' -l parent -r -F -d 'Ancestor artifact file or directory'
complete -c gx -n '__gx_is run' -l dry-run -d 'Decide and show the sandbox; run nothing'
complete -c gx -n '__gx_is run' -l json -d 'JSON decision on stdout when nothing runs'
complete -c gx -n '__gx_is run' -l syslog -d 'Also send receipts to syslog'
complete -c gx -n '__gx_is run' -l broker -r -F -d 'Ask the gx broker on this socket'
# broker
complete -c gx -n '__gx_is broker' -l config -r -F -d 'Configuration file'
complete -c gx -n '__gx_is broker' -l socket -r -F -d 'Socket to listen on'
complete -c gx -n '__gx_is broker' -l trust -x -a '(__fish_complete_suffix .toml)' -d 'Trust store file'
complete -c gx -n '__gx_is broker' -l revocations -x -a '(__fish_complete_suffix .toml)' -d 'Revocation list'
complete -c gx -n '__gx_is broker' -l state -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c gx -n '__gx_is broker' -l receipt-key -x -a '(__fish_complete_suffix .key)' -d 'Receipt signing key'
complete -c gx -n '__gx_is broker' -l allow-user -x -a '(__fish_complete_users)' -d 'User allowed to connect'
complete -c gx -n '__gx_is broker' -l allow-group -x -a '(__fish_complete_groups)' -d 'Group allowed to connect'
complete -c gx -n '__gx_is broker' -l max-concurrent -x -d 'Requests served at once'
complete -c gx -n '__gx_is broker' -l max-per-user -x -d 'Requests one uid may have running at once'
complete -c gx -n '__gx_is broker' -l request-timeout-ms -x -d 'Time to send the request'
complete -c gx -n '__gx_is broker' -l socket-mode -x -d 'Octal mode of the socket'
complete -c gx -n '__gx_is broker' -l socket-group -x -a '(__fish_complete_groups)' -d 'Group of the socket'
complete -c gx -n '__gx_is broker' -l syslog -d 'Also send receipts to syslog'

# log
complete -c gx -n '__gx_needs_sub log' -a verify -d 'Verify the receipt log'
complete -c gx -n '__gx_needs_sub log' -a checkpoint -d 'Print a signed checkpoint'
complete -c gx -n '__gx_needs_sub log' -a show -d 'Show receipts'
complete -c gx -n '__gx_needs_sub log' -a tree -d 'Show the execution tree'
complete -c gx -n '__gx_is log' -l state -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c gx -n '__gx_is log verify' -l receipt-pubkey -x -a '(__fish_complete_suffix .pub)' -d 'Receipt public key'
complete -c gx -n '__gx_is log verify' -l checkpoint -r -F -d 'Prove the log extends this checkpoint'
complete -c gx -n '__gx_is log verify' -l json -d 'Print the report as JSON'
complete -c gx -n '__gx_is log verify' -l all-signatures -d "Also verify every receipt's signature"
complete -c gx -n '__gx_is log verify' -l incremental -d 'Check only the receipts after --checkpoint'
complete -c gx -n '__gx_is log checkpoint' -l receipt-key -x -a '(__fish_complete_suffix .key)' -d 'Receipt private key'
complete -c gx -n '__gx_is log checkpoint' -s o -l output -r -F -d 'Write the checkpoint to FILE'
complete -c gx -n '__gx_is log show' -l json -d 'Print receipts as JSON lines'
complete -c gx -n '__gx_is log show' -l artifact -x -d 'Only receipts of this artifact'
complete -c gx -n '__gx_is log show' -l denied -d 'Only denied receipts'
complete -c gx -n '__gx_is log show' -l since -x -d 'Since a UTC time or a duration ago'
complete -c gx -n '__gx_is log show' -l tail -x -d 'Only the last N receipts'
complete -c gx -n '__gx_is log tree' -l root -x -d 'Only the subtree of this run'
complete -c gx -n '__gx_is log tree' -l json -d 'Print the tree as nested JSON'

# revoke
complete -c gx -n '__gx_is revoke' -k -a '(__fish_complete_suffix .toml)'
complete -c gx -n '__gx_is revoke' -l id -x -d 'Artifact digest to revoke'
complete -c gx -n '__gx_is revoke' -l key-id -x -d 'Revoke every artifact signed by this key'
complete -c gx -n '__gx_is revoke' -s k -l key -x -a '(__fish_complete_suffix .key)' -d 'Private key to sign the list'
complete -c gx -n '__gx_is revoke' -l reason -x -d 'Why'
complete -c gx -n '__gx_is revoke' -l revocations -x -a '(__fish_complete_suffix .toml)' -d 'Revocation list'
complete -c gx -n '__gx_is revoke' -l trust -x -a '(__fish_complete_suffix .toml)' -d 'Trust store file'
complete -c gx -n '__gx_is revoke' -l state -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c gx -n '__gx_is revoke' -l list -d 'Print the verified list'
complete -c gx -n '__gx_is revoke' -l json -d 'With --list: JSON'

# profiles
complete -c gx -n '__gx_is profiles' -l json -d 'Machine-readable output'
complete -c gx -n '__gx_is profiles' -a '(__gx_groups)' -d 'Syscall group'

# state
complete -c gx -n '__gx_needs_sub state' -a prune -d 'Forget spent uses of expired artifacts'
complete -c gx -n '__gx_needs_sub state' -a show -d 'Count the spent-use store entries'
complete -c gx -n '__gx_is state' -l state -x -a '(__fish_complete_directories)' -d 'State directory'
complete -c gx -n '__gx_is state prune' -l now -x -d 'Current time (RFC 3339 UTC)'
complete -c gx -n '__gx_is state show' -l json -d 'Machine-readable output'
