// gx log verify|checkpoint|show|tree: inspect the receipt log (lib/receipt_log.h, lib/receipt_lineage.h).
#include <cstdio>
#include <set>
#include <string>

#include "cmd/common.h"
#include "lib/artifact.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/receipt_key.h"
#include "lib/receipt_lineage.h"
#include "lib/receipt_log.h"

namespace gx::cli {
namespace {

struct LogCmdOptions {
  std::string state, pubkey, receipt_key, checkpoint, output, artifact, since, root;
  bool json = false, denied = false, all_signatures = false, incremental = false;
  size_t tail = 0;
};

std::string state_dir(const LogCmdOptions& o) { return paths::with_defaults("", "", o.state).state; }

nlohmann::json report_json(const VerifyReport& r) {
  return {{"intact", r.intact},
          {"records", r.records},
          {"bad_line", r.bad_line},
          {"problem", r.problem},
          {"torn_tail", r.torn_tail},
          {"head", r.head},
          {"checkpoint_matched", r.checkpoint_matched},
          {"first_checked", r.first_checked},
          {"signatures_checked", r.signatures_checked}};
}

int run_verify(const LogCmdOptions& o) {
  const std::string dir = state_dir(o);
  std::optional<Checkpoint> cp;
  if (!o.checkpoint.empty()) {
    auto text = fs::read_file(o.checkpoint, kCheckpointMaxBytes);
    if (!text) return report_denial(text.error());
    auto parsed = Checkpoint::parse(*text);
    if (!parsed) return report_denial(parsed.error());
    cp = parsed.take();
  }
  auto key = load_receipt_public_key(dir, o.pubkey);
  if (!key) return report_denial(key.error());
  if (o.incremental && !cp)
    return report_denial(Decision::deny(DenyReason::Usage, "--incremental needs --checkpoint FILE", "--incremental"));
  if (o.incremental && cp->version < 2 && cp->count > 0)
    std::fprintf(stderr,
                 "gx: warning: the checkpoint is version %d and records no byte offset: verifying the whole log; "
                 "make a new one with gx log checkpoint for incremental verification\n",
                 cp->version);
  LogVerifyOptions mode;
  mode.all_signatures = o.all_signatures;
  mode.incremental = o.incremental;
  std::vector<LineageFacts> checked;
  mode.verified = &checked;
  auto report = verify_receipt_log(dir, *key, cp, mode);
  if (!report) return report_denial(report.error());
  // The tree's consistency, only over a log whose chain and signatures hold.
  std::vector<LineageProblem> lineage;
  if (report->intact) {
    auto problems = check_verified_lineage(dir, checked, report->first_checked);
    if (!problems) return report_denial(problems.error());
    lineage = problems.take();
  }
  if (o.json) {
    nlohmann::json j = report_json(*report);
    j["lineage_problems"] = nlohmann::json::array();
    for (const auto& p : lineage) j["lineage_problems"].push_back({{"line", p.line}, {"problem", p.problem}});
    std::printf("%s\n", json_text(j, -1).c_str());
  }
  if (!report->intact) return report_denial(report->decision());
  if (!lineage.empty()) {
    for (size_t i = 1; i < lineage.size() && !o.json; ++i)
      std::fprintf(stderr, "gx: lineage: line %llu: %s\n", static_cast<unsigned long long>(lineage[i].line),
                   lineage[i].problem.c_str());
    return report_denial(lineage_decision(lineage));
  }
  if (!o.json) {
    std::printf("receipt log intact: %llu receipts, head %s%s\n", static_cast<unsigned long long>(report->records),
                report->head.c_str(), report->checkpoint_matched ? ", extends the checkpoint" : "");
    std::printf("checked: lines %llu-%llu (hash chain, format, sequence); signatures: %llu (%s)\n",
                static_cast<unsigned long long>(report->first_checked),
                static_cast<unsigned long long>(report->records),
                static_cast<unsigned long long>(report->signatures_checked),
                o.all_signatures ? "every receipt" : "the last receipt, which covers the chain");
  }
  return kExitOk;
}

int run_checkpoint(const LogCmdOptions& o) {
  ReceiptLogOptions opts;
  opts.receipt_key = o.receipt_key;
  auto log = ReceiptLog::open(state_dir(o), opts);
  if (!log) return report_denial(log.error());
  auto cp = log->checkpoint();
  if (!cp) return report_denial(cp.error());
  if (o.output.empty() || o.output == "-") {
    std::fputs(cp->text().c_str(), stdout);
    return kExitOk;
  }
  Decision w = fs::write_file_atomic(o.output, cp->text(), 0644, fs::Overwrite::Yes);
  if (!w) return report_denial(w);
  return kExitOk;
}

// The table shows adversary-chosen text (argv): escape anything a terminal
// could interpret (C0, DEL, and the UTF-8 C1 controls such as U+009B CSI).
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    bool c1 = c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(s[i + 1]) <= 0x9f;
    if (c < 0x20 || c == 0x7f || c1) {
      if (c1) c = static_cast<unsigned char>(s[++i]);
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string argv_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool quote = a.empty() || a.find_first_of(" \t'\"\\$`") != std::string::npos;
    out += quote ? "'" + printable(a) + "'" : printable(a);
  }
  return out;
}

int run_show(const LogCmdOptions& o) {
  ReceiptFilter f;
  f.artifact = o.artifact;
  f.denied_only = o.denied;
  f.tail = o.tail;
  f.sandbox = o.json;  // the text listing does not show the summaries
  if (!o.since.empty()) {
    if (auto t = parse_receipt_time(o.since)) {
      f.since_us = *t;
    } else if (auto d = parse_duration(o.since)) {
      f.since_us = now_unix_us() - *d * 1000000;
    } else {
      return report_denial(Decision::deny(
          DenyReason::Usage, "--since takes a UTC time (2026-11-29T21:16:50Z) or a duration (2h)", "--since", o.since));
    }
  }
  auto listing = read_receipt_log(state_dir(o), f);
  if (!listing) return report_denial(listing.error());
  if (o.json) {
    for (const auto& r : listing->receipts) std::printf("%s\n", r.line().c_str());
  } else {
    // An authorized run that no finished or not-started receipt closes (in
    // the whole log, not only what the filter shows) was interrupted: its
    // supervisor died (a killed gx or broker), or it is still running.
    const std::set<std::string>& closed = listing->closed_runs;
    std::printf("%-20s  %-10s  %-24s  %-12s  %s\n", "TIME", "DECISION", "REASON", "ARTIFACT", "ARGV");
    for (const auto& r : listing->receipts) {
      std::string when = r.time.substr(0, 19) + "Z";
      std::string reason = r.decision == ReceiptKind::Finished ? (r.signal ? "signal " + std::to_string(r.signal)
                                                                           : "exit " + std::to_string(r.exit_code))
                                                               : r.reason;
      if (r.decision == ReceiptKind::Authorized && !closed.count(r.id)) reason = "interrupted";
      std::printf("%-20s  %-10s  %-24s  %-12s  %s\n", when.c_str(), std::string(kind_name(r.decision)).c_str(),
                  printable(reason).c_str(), printable(r.artifact_id.substr(0, 12)).c_str(), argv_text(r.argv).c_str());
    }
  }
  if (listing->unreadable_lines > 0)
    std::fprintf(stderr, "gx: warning: %llu line(s) of the log are not receipts; run gx log verify\n",
                 static_cast<unsigned long long>(listing->unreadable_lines));
  return kExitOk;
}

std::string short_id(const std::string& key_id) {
  return key_id.rfind("sha256:", 0) == 0 ? key_id.substr(7, 12) : key_id.substr(0, 12);
}

void print_run(const nlohmann::json& n, const std::string& indent, bool last, bool top) {
  std::string signers;
  for (const auto& s : n["signers"]) signers += (signers.empty() ? "" : ",") + short_id(s.get<std::string>());
  const double secs = static_cast<double>(n["wall_us"].get<int64_t>()) / 1e6;
  std::vector<std::string> argv = n["argv"].get<std::vector<std::string>>();
  std::printf("%s%s%s  %s  uid %lld  %s  artifact %s  signed by %s  %s  %.3fs%s\n", indent.c_str(),
              top ? "" : (last ? "`- " : "|- "), n["receipt"].get<std::string>().substr(0, 12).c_str(),
              n["time"].get<std::string>().substr(0, 19).c_str(), static_cast<long long>(n["uid"].get<int64_t>()),
              argv_text(argv).c_str(), printable(n["artifact_id"].get<std::string>()).c_str(),
              signers.empty() ? "-" : signers.c_str(), printable(n["result"].get<std::string>()).c_str(), secs,
              n["orphan"].get<bool>()
                  ? ("  (parent " + printable(n["parent"].get<std::string>()) + " not in the log)").c_str()
                  : "");
  const auto& kids = n["children"];
  std::string next = top ? indent : indent + (last ? "   " : "|  ");
  for (size_t i = 0; i < kids.size(); ++i) print_run(kids[i], next, i + 1 == kids.size(), false);
}

int run_tree(const LogCmdOptions& o) {
  ReceiptFilter everything;
  everything.sandbox = false;  // the tree does not show the summaries
  auto listing = read_receipt_log(state_dir(o), everything);
  if (!listing) return report_denial(listing.error());
  auto tree = build_receipt_tree(listing->receipts, o.root);
  if (!tree) return report_denial(tree.error());
  nlohmann::json j = receipt_tree_json(*tree);
  if (o.json) {
    std::printf("%s\n", json_text(j).c_str());
  } else {
    for (const auto& root : j) print_run(root, "", true, true);
  }
  if (listing->unreadable_lines > 0)
    std::fprintf(stderr, "gx: warning: %llu line(s) of the log are not receipts; run gx log verify\n",
                 static_cast<unsigned long long>(listing->unreadable_lines));
  return kExitOk;
}

}  // namespace

void setup_log(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<LogCmdOptions>();
  auto* log = app.add_subcommand("log", "Verify, checkpoint and show the receipt log and its execution tree");
  log->require_subcommand(1);

  auto* verify = log->add_subcommand("verify",
                                     "Verify every hash link and signature of the receipt log, and that every parent "
                                     "receipt exists, precedes its children and is their artifact's parent");
  verify->add_option("--state", opts->state, "State directory (default: $XDG_STATE_HOME/gx, root: /var/lib/gx)");
  verify->add_option("--receipt-pubkey", opts->pubkey, "Receipt public key (default: <state>/receipt.pub)");
  verify->add_option("--checkpoint", opts->checkpoint, "Also prove the log extends this signed checkpoint");
  verify->add_flag("--json", opts->json, "Print the report as JSON");
  verify->add_flag("--all-signatures", opts->all_signatures,
                   "Also verify every receipt's signature (default: the hash chain and the last receipt's signature)");
  verify->add_flag("--incremental", opts->incremental,
                   "Check only the receipts after --checkpoint (trusting the signed checkpoint for the rest)");
  verify->callback([opts, &exit_code] { exit_code = run_verify(*opts); });

  auto* checkpoint = log->add_subcommand("checkpoint", "Print a signed checkpoint of the log's head");
  checkpoint->add_option("--state", opts->state, "State directory");
  checkpoint->add_option("--receipt-key", opts->receipt_key, "Receipt private key (default: <state>/receipt.key)");
  checkpoint->add_option("-o,--output", opts->output, "Write the checkpoint to FILE instead of stdout");
  checkpoint->callback([opts, &exit_code] { exit_code = run_checkpoint(*opts); });

  auto* show = log->add_subcommand("show", "Show receipts (a table, or JSON lines with --json)");
  show->add_option("--state", opts->state, "State directory");
  show->add_flag("--json", opts->json, "Print receipts as JSON lines");
  show->add_option("--artifact", opts->artifact, "Only receipts of this artifact (id or digest prefix)");
  show->add_flag("--denied", opts->denied, "Only denied receipts");
  show->add_option("--since", opts->since, "Only receipts since a UTC time or a duration ago (2h)");
  show->add_option("--tail", opts->tail, "Only the last N matching receipts");
  show->callback([opts, &exit_code] { exit_code = run_show(*opts); });

  auto* tree = log->add_subcommand("tree",
                                   "Show the execution tree: which governed run started which, under which artifact, "
                                   "signed by whom, with what result, how long");
  tree->add_option("--state", opts->state, "State directory");
  tree->add_option("--root", opts->root, "Only the subtree of this run (receipt id, or a prefix of at least 8 digits)");
  tree->add_flag("--json", opts->json, "Print the tree as nested JSON");
  tree->callback([opts, &exit_code] { exit_code = run_tree(*opts); });
}

}  // namespace gx::cli
