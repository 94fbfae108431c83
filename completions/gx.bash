# bash completion for gx(1). Self-contained: needs no bash-completion helpers.
# Installed as share/bash-completion/completions/gx; or source it directly.

# Long options of each (sub)command, as `gx CMD [SUB] --help` lists them
# (tests/cli/completion.sh keeps the two in step).
_gx_options() {
  case $1 in
    keygen) echo "--output --force --help" ;;
    "trust add") echo "--name --not-before --not-after --trust --help" ;;
    "trust list") echo "--json --trust --help" ;;
    "trust remove") echo "--trust --help" ;;
    "trust threshold") echo "--trust --help" ;;
    init) echo "--output --force --ttl --not-before --not-after --max-uses --issuer --reason --ticket --env --read --write --exec --group --net --delegate --delegate-exec --nested-runs --max-depth --pin --parent --run-as --no-bind-user --no-bind-host --help" ;;
    sign) echo "--key --output --help" ;;
    verify) echo "--trust --revocations --state --parent --json --print-payload --print-signature --help" ;;
    run) echo "--trust --revocations --state --receipt-key --report --parent --dry-run --json --syslog --broker --help" ;;
    broker) echo "--config --socket --trust --revocations --state --receipt-key --allow-user --allow-group --max-concurrent --max-per-user --request-timeout-ms --socket-mode --socket-group --syslog --help" ;;
    "log verify") echo "--state --receipt-pubkey --checkpoint --json --all-signatures --incremental --help" ;;
    "log checkpoint") echo "--state --receipt-key --output --help" ;;
    "log show") echo "--state --json --artifact --denied --since --tail --help" ;;
    "log tree") echo "--state --root --json --help" ;;
    profiles) echo "--json --help" ;;
    revoke) echo "--id --key-id --key --reason --revocations --trust --state --list --json --help" ;;
    "state prune") echo "--now --state --help" ;;
    "state show") echo "--json --state --help" ;;
    learn) echo "--output --force --keep-failed --profile-only --allow-dangerous --exact-syscalls --ttl --not-before --not-after --max-uses --issuer --reason --ticket --env --pin --parent --run-as --trust --state --no-bind-user --no-bind-host --help" ;;
    "") echo "--help --version" ;;
    *) echo "--help" ;;
  esac
}

# Files ending in one of the given suffixes, plus directories to descend into.
_gx_files() {
  local cur=$1 ext
  shift
  local IFS=$'\n'
  for ext in "$@"; do
    COMPREPLY+=($(compgen -f -X "!*.$ext" -- "$cur"))
  done
  COMPREPLY+=($(compgen -d -- "$cur"))
  compopt -o filenames 2>/dev/null
}

_gx() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local cmd="" sub="" word i dashdash=0 npos=0
  local IFS=$' \t\n'
  COMPREPLY=()

  # Which (sub)command is being completed, and how many positional words it has.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -- ]]; then
      dashdash=$i
      break
    fi
    case $word in
      -*) continue ;;
    esac
    # Skip an option's value: the previous word is an option taking one.
    case ${COMP_WORDS[i-1]} in
      -o | -k | -n | --output | --key | --name | --trust | --revocations | --state | --receipt-key | \
      --receipt-pubkey | --checkpoint | --report | --ttl | --not-before | --not-after | \
      --max-uses | --issuer | --reason | --ticket | --env | --read | --write | --exec | --group | --net | --pin | \
      --parent | --delegate | --delegate-exec | --max-depth | --root | --print-signature | --artifact | --since | --tail | --id | --key-id | --now)
        continue ;;
    esac
    if [[ -z $cmd ]]; then
      cmd=$word
    elif [[ -z $sub && $cmd =~ ^(trust|log|state)$ ]]; then
      sub=$word
    else
      npos=$((npos + 1))
    fi
  done

  # After "--" comes the governed command: a program name, then anything.
  if ((dashdash)); then
    if ((COMP_CWORD == dashdash + 1)); then
      COMPREPLY=($(compgen -c -- "$cur"))
    else
      COMPREPLY=($(compgen -f -- "$cur"))
      compopt -o filenames 2>/dev/null
    fi
    return 0
  fi

  # Values of options.
  case $prev in
    -k | --key | --receipt-key) _gx_files "$cur" key; return 0 ;;
    --receipt-pubkey) _gx_files "$cur" pub; return 0 ;;
    --trust | --revocations) _gx_files "$cur" toml; return 0 ;;
    --state) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return 0 ;;
    -o | --output)
      case $cmd in
        init | sign | learn) _gx_files "$cur" toml ;;
        *) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
      esac
      return 0 ;;
    --report | --checkpoint | --read | --write | --exec | --pin)
      COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return 0 ;;
    --env) COMPREPLY=($(compgen -e -- "$cur")); return 0 ;;
    --net) COMPREPLY=($(compgen -W "none 443 80,443 connect: bind:" -- "$cur")); return 0 ;;
    -n | --name | --not-before | --not-after | --ttl | --max-uses | --issuer | --reason | --ticket | \
    --parent | --print-signature | --artifact | --since | --tail | --id | --key-id | --now)
      return 0 ;;
  esac

  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$(_gx_options "")" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "keygen trust init sign verify run log revoke profiles state learn broker" -- "$cur"))
    fi
    return 0
  fi

  local nested=""
  case $cmd in
    trust) nested="add list remove threshold" ;;
    log) nested="verify checkpoint show tree" ;;
    state) nested="prune show" ;;
  esac
  if [[ -n $nested && -z $sub ]]; then
    COMPREPLY=($(compgen -W "$nested" -- "$cur"))
    return 0
  fi

  local key=$cmd${sub:+ $sub}
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_gx_options "$key")" -- "$cur"))
    return 0
  fi

  # Positional arguments.
  case $key in
    verify | sign | revoke) _gx_files "$cur" toml ;;
    run) ((npos == 0)) && _gx_files "$cur" toml ;;
    "trust add") _gx_files "$cur" pub ;;
    profiles)
      COMPREPLY=($(compgen -W "$(command gx profiles 2>/dev/null |
        awk '/^Syscall groups/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')" -- "$cur")) ;;
  esac
  return 0
}

complete -F _gx gx
