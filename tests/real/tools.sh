#!/usr/bin/env bash
# Everyday tools, bare and under a learned+signed artifact: identical stdout,
# exit status and files; a narrowed artifact fails naming what is missing.
source "$(dirname "$0")/lib/corpus.bash"
need tar make cc rsync sqlite3 jq find sort head

setup_tree() {
  mkdir -p src/sub out
  printf 'alpha\n' >src/a.txt
  printf 'beta\n' >src/sub/b.txt
  ln -s a.txt src/link
  touch -d 2020-01-01T00:00:00Z src/a.txt src/sub/b.txt src/sub src
}
# tar: create (fixed metadata, so the archive bytes are comparable), then extract.
same tar_c setup_tree "$W" -- tar --sort=name --mtime=2020-01-01T00:00:00Z --owner=0 --group=0 --numeric-owner \
  -cf out/src.tar src
narrowed tar_c "s|\"$W/out\"|\"/dev/null\"|" "out/src.tar.*Permission denied" setup_tree "$W" -- \
  tar --sort=name --mtime=2020-01-01T00:00:00Z --owner=0 --group=0 --numeric-owner -cf out/src.tar src
setup_tar() {
  setup_tree && tar --sort=name --mtime=2020-01-01T00:00:00Z --owner=0 --group=0 --numeric-owner -cf in.tar src && rm -rf src
}
same tar_x setup_tar "$W" -- tar -xf in.tar -C out
narrowed tar_x "s|\"$W/out\"|\"/dev/null\"|" "Permission denied" setup_tar "$W" -- tar -xf in.tar -C out

# cp -a and rsync of a tree.
same cp_a setup_tree "$W" -- cp -a src out/copy
narrowed cp_a "s|\"$W/out\"|\"/dev/null\"|" "out/copy.*Permission denied" setup_tree "$W" -- cp -a src out/copy
same rsync setup_tree "$W" -- rsync -a src/ out/mirror/
narrowed rsync "s|\"$W/out\"|\"/dev/null\"|" "Permission denied" setup_tree "$W" -- rsync -a src/ out/mirror/

# make with a small Makefile that runs the compiler (the compiler needs exec).
# The compiler's temporary files go to TMPDIR inside the scratch directory: a
# learned /tmp grant contains gx's test state, so gx run expands it, and files
# created later directly in an expanded directory are not covered.
setup_make() {
  mkdir tmp
  printf 'int main(void) { return 0; }\n' >hello.c
  printf 'hello: hello.c\n\tcc -O0 -o hello hello.c\n\t@echo built\n' >Makefile
}
EXTRA_ENV=(TMPDIR="$W/tmp")
same make setup_make "$W" -- make
check "make built hello" grep -qx "built" "$T/make.gx.out"
narrowed make 's|^exec = \[.*\]|exec = []|' "(Permission denied|cannot|not permitted)" setup_make "$W" -- make
EXTRA_ENV=()

# sqlite3 query, jq filter.
setup_db() { sqlite3 db.sqlite 'create table t(x integer); insert into t values (1),(2),(3);'; }
same sqlite setup_db "$W" -- sqlite3 db.sqlite 'select sum(x) from t;'
check "sqlite answered 6" grep -qx 6 "$T/sqlite.gx.out"
narrowed sqlite "s|\"$W/db.sqlite\", ||; s|, \"$W/db.sqlite\"||; s|\"$W\", ||; s|, \"$W\"||" \
  "(unable to open|Permission denied|db.sqlite)" setup_db "$W" -- sqlite3 db.sqlite 'select sum(x) from t;'
setup_json() { printf '{"items":[{"n":"a","v":1},{"n":"b","v":2}]}\n' >in.json; }
same jq setup_json "$W" -- jq -c '[.items[] | select(.v > 1) | .n]' in.json
check "jq filtered" grep -qx '\["b"\]' "$T/jq.gx.out"
narrowed jq "s|\"$W/in.json\", ||; s|, \"$W/in.json\"||" "in.json.*Permission denied" setup_json "$W" -- \
  jq -c '[.items[] | select(.v > 1) | .n]' in.json

# A pipeline in sh -c.
setup_files() { mkdir -p d/x d/y && touch d/x/3 d/x/1 d/y/2 d/z; }
same pipeline setup_files "$W" -- sh -c 'find d -type f | sort | head -n 3'
check "pipeline output" test "$(tr '\n' ' ' <"$T/pipeline.gx.out")" = "d/x/1 d/x/3 d/y/2 "
narrowed pipeline 's|"/usr/bin/head", ||; s|, "/usr/bin/head"||' "head.*Permission denied" setup_files "$W" -- \
  sh -c 'find d -type f | sort | head -n 3'
finish
