#!/usr/bin/env bash
# git in a scratch repository: init, add, commit, log, status, diff -- each
# step bare and under its own learned+signed artifact, identical results.
source "$(dirname "$0")/lib/corpus.bash"
need git
# Fixed identity and dates: the commit ids are then the same in both runs.
EXTRA_ENV=(GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org GIT_COMMITTER_NAME=Alice
  GIT_COMMITTER_EMAIL=alice@example.org GIT_AUTHOR_DATE=2026-01-01T00:00:00Z
  GIT_COMMITTER_DATE=2026-01-01T00:00:00Z GIT_CONFIG_NOSYSTEM=1)
# The index holds inode numbers and ctimes: compared by existence only.
IGNORE_CONTENT='^\./repo/\.git/index$'
G=(git -c init.defaultBranch=main)
step0() { mkdir repo && printf 'one\n' >repo/a.txt; }
step1() { step0 && e "${G[@]}" init -q repo; }
step2() { step1 && (cd repo && e "${G[@]}" add a.txt); }
step3() { step2 && (cd repo && e "${G[@]}" commit -q -m first && printf 'two\n' >>a.txt); }

same git_init step0 "$W" -- "${G[@]}" init -q repo
narrowed git_init 's|^write = .*|write = ["/dev/null"]|' "(Permission denied|cannot)" step0 "$W" -- "${G[@]}" init -q repo
same git_add step1 "$W/repo" -- "${G[@]}" add a.txt
same git_commit step2 "$W/repo" -- "${G[@]}" commit -q -m first
narrowed git_commit 's|^write = .*|write = ["/dev/null"]|' "(Permission denied|Unable|unable|not a git repository.*\.git)" step2 "$W/repo" -- "${G[@]}" commit -q -m first
# status and diff refresh the index opportunistically when it looks stale, which depends on
# timestamps (racy git): one run writes .git/index.lock, the next does not, so a learned
# artifact may miss the grant. GIT_OPTIONAL_LOCKS=0 (git(1)) turns that optional write off,
# making both runs deterministic; docs/learn.md notes the case.
EXTRA_ENV+=(GIT_OPTIONAL_LOCKS=0)
same git_log step3 "$W/repo" -- "${G[@]}" log --format='%H %an %s'
check "log shows the commit" grep -q " Alice first$" "$T/git_log.gx.out"
same git_status step3 "$W/repo" -- "${G[@]}" status --short
check "status shows the change" grep -qx " M a.txt" "$T/git_status.gx.out"
same git_diff step3 "$W/repo" -- "${G[@]}" diff --no-color
check "diff shows the change" grep -qx "+two" "$T/git_diff.gx.out"
finish
