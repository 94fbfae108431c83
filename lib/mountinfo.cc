#include "lib/mountinfo.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "lib/fsutil.h"

namespace gx::mounts {
namespace {

// The part of `inner` below `outer` ("" when equal, "/a/b" below), or
// nullopt when it is not at or below it (component-wise).
std::optional<std::string_view> rest_below(std::string_view inner, std::string_view outer) {
  if (outer == "/") {
    if (inner.empty() || inner[0] != '/') return std::nullopt;
    return inner == "/" ? std::string_view() : inner;
  }
  if (!inner.starts_with(outer)) return std::nullopt;
  std::string_view rest = inner.substr(outer.size());
  if (!rest.empty() && rest[0] != '/') return std::nullopt;
  return rest;
}

std::string join(std::string_view base, std::string_view rest) {
  if (rest.empty()) return std::string(base);
  if (base == "/") return std::string(rest);
  return std::string(base) + std::string(rest);
}

bool take_number(std::string_view& s, long& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(p - s.data()));
  return true;
}

// The next space-separated field of `line` (escapes keep fields free of
// spaces), or nullopt at the end.
std::optional<std::string_view> next_field(std::string_view& line) {
  if (line.empty()) return std::nullopt;
  size_t sp = line.find(' ');
  std::string_view f = line.substr(0, sp);
  line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  return f;
}

}  // namespace

std::string unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' && field[i + 2] >= '0' &&
        field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

Result<std::vector<Mount>> parse(std::string_view text) {
  std::vector<Mount> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    auto bad = [&](const char* what) {
      return Decision::deny(DenyReason::Malformed,
                            "mountinfo line " + std::to_string(line_no) + ": " + what + " is not well-formed",
                            "mountinfo", std::to_string(line_no));
    };
    Mount m;
    auto id = next_field(line), parent = next_field(line), dev = next_field(line);
    auto root = next_field(line), point = next_field(line);
    if (!point) return bad("a line of fewer than five fields");
    long major = 0, minor = 0;
    std::string_view d = *dev;
    if (!take_number(*id, m.id) || !id->empty() || !take_number(*parent, m.parent) || !parent->empty())
      return bad("the mount id");
    if (!take_number(d, major) || d.empty() || d[0] != ':' || (d.remove_prefix(1), !take_number(d, minor)) ||
        !d.empty() || major < 0 || minor < 0)
      return bad("major:minor");
    m.major = static_cast<unsigned>(major);
    m.minor = static_cast<unsigned>(minor);
    m.root = unescape(*root);
    m.mount_point = unescape(*point);
    if (m.root.empty() || m.root[0] != '/' || m.mount_point.empty() || m.mount_point[0] != '/')
      return bad("the root or mount point");
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<Mount>> read_self() { return read_self(nullptr); }

Result<std::vector<Mount>> read_self(std::string* text_out) {
  auto text = fs::read_file("/proc/self/mountinfo", kMaxMountinfo);
  if (!text) return text.error();
  auto mounts = parse(*text);
  if (mounts && text_out) *text_out = text.take();
  return mounts;
}

long mount_id(int fd) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_MNT_ID, &stx) == 0 &&
      (stx.stx_mask & STATX_MNT_ID) != 0)
    return static_cast<long>(stx.stx_mnt_id);
  // Kernels before 5.8: fdinfo says it (one more descriptor).
  auto info = fs::read_file("/proc/self/fdinfo/" + std::to_string(fd), 4096);
  size_t at = info ? info->find("mnt_id:") : std::string::npos;
  if (at == std::string::npos) {
    if (errno == 0) errno = ENOENT;
    return -1;
  }
  std::string_view v(*info);
  v.remove_prefix(at + 7);
  while (!v.empty() && (v[0] == ' ' || v[0] == '\t')) v.remove_prefix(1);
  long id = -1;
  if (!take_number(v, id)) {
    errno = EINVAL;
    return -1;
  }
  return id;
}

bool within(const FsPosition& inner, const FsPosition& outer) {
  return inner.major == outer.major && inner.minor == outer.minor && rest_below(inner.path, outer.path).has_value();
}

bool overlap(const FsPosition& a, const FsPosition& b) { return within(a, b) || within(b, a); }

std::optional<std::string> name_within(const FsPosition& inner, const FsPosition& outer,
                                       const std::string& outer_name) {
  if (inner.major != outer.major || inner.minor != outer.minor) return std::nullopt;
  auto rest = rest_below(inner.path, outer.path);
  if (!rest) return std::nullopt;
  return join(outer_name, *rest);
}

std::string to_string(const FsPosition& p) {
  return std::to_string(p.major) + ":" + std::to_string(p.minor) + ":" + p.path;
}

MountTable::MountTable(std::vector<Mount> mounts) : mounts_(std::move(mounts)) {
  const size_t n = mounts_.size();
  parent_.assign(n, -1);
  placed_.resize(n);
  children_.resize(n);
  std::vector<size_t> by_id(n);
  for (size_t i = 0; i < n; ++i) by_id[i] = i;
  std::sort(by_id.begin(), by_id.end(), [&](size_t a, size_t b) { return mounts_[a].id < mounts_[b].id; });
  for (size_t i = 0; i < n; ++i) {
    const Mount& m = mounts_[i];
    if (m.parent == m.id) continue;  // the namespace's root mount may name itself
    auto it =
        std::lower_bound(by_id.begin(), by_id.end(), m.parent, [&](size_t k, long id) { return mounts_[k].id < id; });
    if (it == by_id.end() || mounts_[*it].id != m.parent) continue;  // above this process's root
    const Mount& p = mounts_[*it];
    parent_[i] = static_cast<long>(*it);
    children_[*it].push_back(i);
    // The mount point is a directory of the parent: its path below the
    // parent's mount point, in the parent's file system.
    if (auto rest = rest_below(m.mount_point, p.mount_point))
      placed_[i] = FsPosition{p.major, p.minor, join(p.root, *rest)};
  }
}

const Mount* MountTable::find(long id) const {
  for (const Mount& m : mounts_)
    if (m.id == id) return &m;
  return nullptr;
}

std::optional<FsPosition> MountTable::position(long id, const std::string& path) const {
  const Mount* m = find(id);
  if (m == nullptr) return std::nullopt;
  auto rest = rest_below(path, m->mount_point);
  if (!rest) return std::nullopt;
  return FsPosition{m->major, m->minor, join(m->root, *rest)};
}

std::optional<std::vector<Region>> MountTable::reach(const FsPosition& at, const std::string& path) const {
  std::vector<Region> out{{at, path}};
  std::vector<bool> seen;
  std::vector<size_t> todo;
  for (size_t c = 0; c < mounts_.size(); ++c) {
    if (!placed_[c]) continue;
    // The kernel walks from a file up through the mount it was reached by:
    // from c's root to its mount point, then up the parent's directories
    // (to the parent's root). The rule's directory is met on that walk
    // when the mount point lies at or below it, in a part of the parent's
    // file system the parent shows (at or below the parent's root).
    const Mount& parent = mounts_[static_cast<size_t>(parent_[c])];
    auto rest = rest_below(placed_[c]->path, at.path);
    if (!rest || placed_[c]->major != at.major || placed_[c]->minor != at.minor || !rest_below(at.path, parent.root))
      continue;
    // Each such mount point is listed, also one inside another's subtree:
    // the walk from a file below it meets the rule's directory both ways.
    const std::string via = join(path, *rest);
    seen.assign(mounts_.size(), false);
    todo.assign(1, c);
    while (!todo.empty()) {
      size_t k = todo.back();
      todo.pop_back();
      if (seen[k]) continue;
      seen[k] = true;
      if (out.size() >= kMaxRegions) return std::nullopt;
      out.push_back(Region{FsPosition{mounts_[k].major, mounts_[k].minor, mounts_[k].root}, via});
      todo.insert(todo.end(), children_[k].begin(), children_[k].end());
    }
  }
  return out;
}

}  // namespace gx::mounts
