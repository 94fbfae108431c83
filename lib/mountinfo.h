// The mount table (/proc/self/mountinfo) and positions in file systems.
//
// A path names a file through mounts; the kernel's own objects (inodes,
// and the Landlock rules attached to them) do not care which mount was
// used. Two different paths reach the same directory when one file system
// is mounted twice (a bind mount), so comparing path strings says nothing
// about whether two grants or a grant and gx's own files share files. An
// FsPosition says where a file is in its FILE SYSTEM: the device of its
// mount (mountinfo's major:minor) and its path below that file system's
// root (the mount's `root` field joined with the path below the mount
// point). Two positions on one device share files exactly when one path
// is a component-wise prefix of the other.
//
// Devices are mountinfo's (the superblock's), not st_dev: a btrfs
// subvolume has an st_dev of its own but shares its superblock, and its
// mounts' root fields name the subvolume's path from the top of the file
// system, so positions on btrfs stay exact and comparable with mounts gx
// never opened. Overlay file systems are a device of their own: an
// overlay and the directories stacked in it are NOT related here (see
// docs/sandbox.md for what that leaves open).
//
// lib/broker_stdio.cc's mount-id checks use parse and mount_id too.
//
// Everything here is about this process's mount namespace and root:
// mountinfo lists the mounts reachable from the root, with mount points
// relative to it, as /proc/self/fd names are.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/decision.h"

namespace gx::mounts {

// One line of mountinfo: its first five fields (see proc(5)), unescaped.
struct Mount {
  long id = 0;
  long parent = 0;
  unsigned major = 0, minor = 0;
  std::string root;         // the mount's root directory within its file system
  std::string mount_point;  // where it is mounted, relative to this process's root
};

// Decodes mountinfo's octal escapes (\040 space, \011 tab, \012 newline,
// \134 backslash, any \ooo); anything else is kept as it is.
std::string unescape(std::string_view field);

// Parses mountinfo text. A line without five well-formed fields denies
// (Malformed, field "mountinfo", naming the line number).
Result<std::vector<Mount>> parse(std::string_view text);

// The most of /proc/self/mountinfo that is read: one mount a line, generous
// for thousands of mounts.
inline constexpr size_t kMaxMountinfo = 16 << 20;
// Reads and parses /proc/self/mountinfo (one read; the kernel generates it
// on every read: tens of microseconds on an ordinary machine).
Result<std::vector<Mount>> read_self();
// The same, with the text it parsed (`text`, optional): two equal texts are
// one mount table, mount points and roots included.
Result<std::vector<Mount>> read_self(std::string* text);

// The id (mountinfo's first field) of the mount `fd` is on: statx
// STATX_MNT_ID (Linux 5.8), else "mnt_id:" of /proc/self/fdinfo/<fd>
// (which takes a descriptor). -1 with errno set when neither says.
long mount_id(int fd);

// Where a file is in its file system.
struct FsPosition {
  unsigned major = 0, minor = 0;
  std::string path;  // absolute, below the file system's root
  bool operator==(const FsPosition&) const = default;
};
// True when `inner` is on the same device as `outer` and its path equals
// or lies below outer's (component-wise).
bool within(const FsPosition& inner, const FsPosition& outer);
// Either within the other: the two share files.
bool overlap(const FsPosition& a, const FsPosition& b);
// The name `inner` has below a directory at `outer` named `outer_name`:
// outer_name joined with inner's path below outer's; nullopt when inner is
// not within outer.
std::optional<std::string> name_within(const FsPosition& inner, const FsPosition& outer, const std::string& outer_name);
// "major:minor:path", for messages.
std::string to_string(const FsPosition& p);

// What a Landlock rule on a directory reaches: the subtree below it, and
// every mount whose mount point is in that subtree (with the mounts on
// those, and so on). `via` is the path, below the rule's own path, where a
// region is entered: the rule's own path for its own subtree, else the
// mount point's position in the rule's subtree named from the rule's path.
struct Region {
  FsPosition top;
  std::string via;
};

// A parsed mount table with its tree (parents, children) indexed once.
class MountTable {
 public:
  MountTable() = default;
  explicit MountTable(std::vector<Mount> mounts);

  const std::vector<Mount>& mounts() const { return mounts_; }
  // The mount with this id; nullptr when the table has none (a mount made
  // or removed since the table was read, or outside this process's root).
  const Mount* find(long id) const;

  // The position of the file named `path` (absolute; a /proc/self/fd name)
  // that lies on mount `id`; nullopt when the table has no such mount or
  // `path` is not at or below its mount point.
  std::optional<FsPosition> position(long id, const std::string& path) const;

  // The regions a Landlock rule on the file at `at`, named `path`, covers:
  // first its own subtree (via = path), then, for each mount whose mount
  // point lies in that subtree in ANY mount that shows it (the kernel
  // walks up from a file through the mounts it was reached by, so a mount
  // inside another alias of the same directory is inside it too), that
  // mount and everything mounted below it, with via = the mount point's
  // path as seen from `path`. Over-approximates only: a mount hidden under
  // another one at the same place is still listed.
  // Security: what a rule covers changes when mounts change; this is the
  // table as read. Someone who can mount in this namespace after the read
  // (root, or a process sharing a user namespace that owns it) is outside
  // what this can see.
  // nullopt past kMaxRegions regions: mounts nested inside each other are
  // listed once for every mount point above them (quadratic in the depth),
  // and a table made to blow that up is refused rather than walked.
  static constexpr size_t kMaxRegions = 20000;
  std::optional<std::vector<Region>> reach(const FsPosition& at, const std::string& path) const;

 private:
  std::vector<Mount> mounts_;
  std::vector<long> parent_;                       // index in mounts_, or -1
  std::vector<std::optional<FsPosition>> placed_;  // each mount point's position in its parent
  std::vector<std::vector<size_t>> children_;
};

}  // namespace gx::mounts
