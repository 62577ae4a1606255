#include "sweeps/decide/target.hpp"

namespace healthsweep::sweeps::decide {

StoredSpec::StoredSpec(const TargetSpec& spec) : id(spec.id), paused(spec.paused), on_engine(spec.on_engine) {
  set_rare(spec.container, spec.http, spec.tcp, spec.instance);
}

void StoredSpec::set_checks(const TargetSpec& spec) { set_rare(spec.container, spec.http, spec.tcp, instance()); }

void StoredSpec::set_rare(const std::string& container, const std::string& http,
                          const std::optional<config::Endpoint>& tcp, const std::string& instance) {
  if (container.empty() && http.empty() && !tcp && instance.empty()) {
    rare_.reset();
    return;
  }
  // Copied before rare_ is touched: `instance` may be rare_'s own.
  Rare next{container, http, tcp, instance};
  if (rare_)
    *rare_ = std::move(next);
  else
    rare_ = std::make_unique<Rare>(std::move(next));
}

bool StoredSpec::same_as(const TargetSpec& spec) const {
  return id == spec.id && paused == spec.paused && on_engine == spec.on_engine && container() == spec.container &&
         http() == spec.http && tcp() == spec.tcp && instance() == spec.instance;
}

TargetSpec StoredSpec::full() const {
  TargetSpec spec;
  spec.id = id;
  spec.paused = paused;
  spec.on_engine = on_engine;
  if (rare_) {
    spec.container = rare_->container;
    spec.http = rare_->http;
    spec.tcp = rare_->tcp;
    spec.instance = rare_->instance;
  }
  return spec;
}

}  // namespace healthsweep::sweeps::decide
