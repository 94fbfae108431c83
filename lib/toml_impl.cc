// toml++'s out-of-line implementation, compiled into gxlib once (issue #14):
// linking Debian's libtomlplusplus.so would pull in the shared libstdc++
// and its dynamic-symbol relocations at every gx start (docs/performance.md).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
