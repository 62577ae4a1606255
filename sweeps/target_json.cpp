#include "sweeps/target_json.hpp"

#include <cstdint>
#include <string>

#include "metrics/time_format.hpp"

namespace healthsweep::sweeps {

using namespace healthsweep::sweeps::decide;

namespace {

boost::json::value evidence_json(const LayerEvidence& e) {
  if (!e.seen) return nullptr;
  std::string text(to_string(e.verdict));
  if (!e.reason.empty()) {
    text += ": ";
    text += e.reason.view();
  }
  return boost::json::string(text);
}

}  // namespace

boost::json::object to_json(const TargetRecord& rec, std::chrono::steady_clock::time_point now_steady,
                            std::chrono::system_clock::time_point now_wall, std::string_view owner) {
  boost::json::object o;
  o["id"] = rec.spec.id;
  o["state"] = to_string(rec.state);
  if (rec.spec.container().empty())
    o["container"] = nullptr;
  else
    o["container"] = rec.spec.container();
  o["since"] = metrics::format_rfc3339_ms(rec.since_wall);
  o["reason"] = rec.reason.view();
  if (rec.last_heartbeat)
    o["last_heartbeat"] = metrics::format_rfc3339_ms(metrics::to_wall(*rec.last_heartbeat, now_steady, now_wall));
  else
    o["last_heartbeat"] = nullptr;
  o["restarts"] = static_cast<std::int64_t>(rec.restarts);
  o["quarantined"] = rec.quarantined;
  boost::json::object evidence;
  evidence["passive"] = evidence_json(rec.evidence(Layer::passive));
  evidence["proactive"] = evidence_json(rec.evidence(Layer::proactive));
  evidence["reactive"] = evidence_json(rec.evidence(Layer::reactive));
  o["evidence"] = std::move(evidence);
  if (owner.empty())
    o["owner"] = nullptr;
  else
    o["owner"] = owner;
  return o;
}

}  // namespace healthsweep::sweeps
