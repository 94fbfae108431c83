// The mountinfo parser, file-system positions and what a rule's directory
// reaches through the mount tree.
#include "lib/mountinfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "lib/fsutil.h"

using namespace gx;
using namespace gx::mounts;

namespace {

MountTable table_of(std::string_view text) {
  auto m = parse(text);
  INFO((m.ok() ? std::string() : m.error().explain()));
  REQUIRE(m.ok());
  return MountTable(m.take());
}

bool has_region(const std::vector<Region>& rs, const FsPosition& top, const std::string& via) {
  for (const auto& r : rs)
    if (r.top == top && r.via == via) return true;
  return false;
}

}  // namespace

TEST_CASE("mountinfo: fields are parsed and unescaped") {
  auto m = parse(
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "30 22 8:1 /srv/my\\040dir /mnt/a\\011b\\012c\\134 rw - ext4 /dev/sda1 rw\n");
  REQUIRE(m.ok());
  REQUIRE(m->size() == 2);
  CHECK((*m)[0].id == 22);
  CHECK((*m)[0].parent == 1);
  CHECK((*m)[1].major == 8);
  CHECK((*m)[1].minor == 1);
  CHECK((*m)[1].root == "/srv/my dir");
  CHECK((*m)[1].mount_point == "/mnt/a\tb\nc\\");
  CHECK(unescape("\\04") == "\\04");  // too short: kept
  CHECK(unescape("a\\999") == "a\\999");
}

TEST_CASE("mountinfo: malformed lines deny, naming the line") {
  for (const char* text : {"22 1 8:1 /\n", "x 1 8:1 / / rw\n", "22 1 8-1 / / rw\n", "22 1 8:1 rel / rw\n",
                           "22 1 8:1 / / rw\n23 22 8 / /a rw\n"}) {
    auto m = parse(text);
    INFO(text);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().reason == DenyReason::Malformed);
    CHECK(m.error().field == "mountinfo");
  }
  CHECK(parse("22 1 8:1 / / rw\n23 22 8 / /a rw\n").error().value == "2");
}

TEST_CASE("mountinfo: positions, and what a directory reaches through mounts") {
  // / is sda1; /var is a bind of /data/var; /srv/s is a tmpfs; /mnt/y is a
  // bind of /data/x and /mnt/y/sub a bind of /data/var/lib/gx (the state).
  const MountTable t = table_of(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 8:1 /data/var /var rw - ext4 /dev/sda1 rw\n"
      "3 1 0:40 / /srv/s rw - tmpfs tmpfs rw\n"
      "4 1 8:1 /data/x /mnt/y rw - ext4 /dev/sda1 rw\n"
      "5 4 8:1 /data/var/lib/gx /mnt/y/sub rw - ext4 /dev/sda1 rw\n");
  const FsPosition state{8, 1, "/data/var/lib/gx"};
  CHECK(t.position(2, "/var/lib/gx") == state);
  CHECK(t.position(1, "/") == FsPosition{8, 1, "/"});
  CHECK(t.position(3, "/srv/s/f") == FsPosition{0, 40, "/f"});
  CHECK_FALSE(t.position(2, "/variable").has_value());  // not below /var, component-wise
  CHECK_FALSE(t.position(99, "/").has_value());
  CHECK(within(state, FsPosition{8, 1, "/data"}));
  CHECK_FALSE(within(state, FsPosition{8, 1, "/dat"}));
  CHECK_FALSE(within(state, FsPosition{8, 2, "/"}));
  CHECK(name_within(state, FsPosition{8, 1, "/data"}, "/d") == "/d/var/lib/gx");

  // /data: its own subtree, which holds the state; nothing mounted in it.
  auto data = *t.reach(FsPosition{8, 1, "/data"}, "/data");
  CHECK(data.size() == 1);
  // /data/x: mount 5 sits on its alias /mnt/y, at /data/x/sub.
  auto x = *t.reach(FsPosition{8, 1, "/data/x"}, "/data/x");
  CHECK(has_region(x, state, "/data/x/sub"));
  // /: everything, each mount entered at its own mount point.
  auto root = *t.reach(FsPosition{8, 1, "/"}, "/");
  CHECK(has_region(root, FsPosition{0, 40, "/"}, "/srv/s"));
  CHECK(has_region(root, FsPosition{8, 1, "/data/var"}, "/var"));
  CHECK(has_region(root, state, "/mnt/y"));  // below mount 4, entered at its mount point
  // /srv: the tmpfs; /var/lib (through mount 2): nothing mounted below.
  CHECK(has_region(*t.reach(FsPosition{8, 1, "/srv"}, "/srv"), FsPosition{0, 40, "/"}, "/srv/s"));
  CHECK(t.reach(*t.position(2, "/var/lib"), "/var/lib")->size() == 1);
}

TEST_CASE("mountinfo: a deep chain of nested mounts is refused, not walked quadratically") {
  // Mount n is a bind of one tmpfs at /g/m/m/.../m (n deep): every mount point
  // lies below every other's, so each is listed once per mount above it.
  auto chain = [](int depth) {
    std::string text = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", at = "/g";
    for (int n = 0; n < depth; ++n) {
      at += "/m";
      text += std::to_string(n + 2) + " " + std::to_string(n + 1) + " 0:50 / " + at + " rw - tmpfs t rw\n";
    }
    return table_of(text);
  };
  // A rule on the tmpfs's root: every nested mount point is in its subtree.
  const MountTable shallow = chain(50);
  auto ok = shallow.reach(FsPosition{0, 50, "/"}, "/g/m");
  REQUIRE(ok.has_value());
  CHECK(ok->size() > 50 * 49 / 2);
  const MountTable deep = chain(400);  // about 400 * 399 / 2 regions
  CHECK_FALSE(deep.reach(FsPosition{0, 50, "/"}, "/g/m").has_value());
}

TEST_CASE("mountinfo: the running system") {
  auto m = read_self();
  REQUIRE(m.ok());
  const MountTable t(m.take());
  fs::UniqueFd fd(open("/proc/self", O_PATH | O_CLOEXEC));
  REQUIRE(fd.ok());
  const long id = mount_id(fd.get());
  REQUIRE(id >= 0);
  auto info = fs::read_file("/proc/self/fdinfo/" + std::to_string(fd.get()), 4096);
  REQUIRE(info.ok());
  CHECK_THAT(*info, Catch::Contains("mnt_id:\t" + std::to_string(id)));
  REQUIRE(t.find(id) != nullptr);
  CHECK(t.find(id)->mount_point == "/proc");
  auto pos = t.position(id, fs::fd_path(fd.get()));
  REQUIRE(pos.has_value());
  CHECK(pos->path.starts_with("/"));
}
