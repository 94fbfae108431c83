// libFuzzer target for the broker's frame decoder (lib/broker_protocol.h):
// the input is a byte stream as a peer could send it. Every frame is
// decoded (header, then the payload by its type) until the input ends or a
// decoder refuses; a crash, a sanitizer report or an allocation beyond the
// limits is a finding. Re-encoding a decoded request must decode to the
// same request (the codec has one spelling).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lib/broker_protocol.h"

using namespace gx::broker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The nested-run channel's messages (one datagram each) are whole inputs too.
  (void)decode_connect(in);
  while (in.size() >= kFrameHeaderBytes) {
    auto h = decode_header(in.substr(0, kFrameHeaderBytes));
    if (!h) return 0;
    in.remove_prefix(kFrameHeaderBytes);
    if (h->length > in.size()) return 0;
    std::string_view payload = in.substr(0, h->length);
    in.remove_prefix(h->length);
    switch (h->type) {
      case FrameType::Request: {
        auto r = decode_request(payload);
        if (r) {
          auto again = decode_request(encode_request(*r));
          if (!again || again->argv != r->argv || again->env != r->env || again->cwd != r->cwd ||
              again->artifact != r->artifact || again->flags != r->flags ||
              again->ignored_signals != r->ignored_signals || again->blocked_signals != r->blocked_signals)
            std::abort();
        }
        break;
      }
      case FrameType::Signal: (void)decode_signal(payload); break;
      case FrameType::Report: (void)decode_report(payload); break;
      case FrameType::Exit: (void)decode_exit(payload); break;
      case FrameType::Error: (void)decode_error(payload); break;
      case FrameType::Connect: break;  // channel messages are whole inputs: decode_connect above
    }
  }
  return 0;
}
