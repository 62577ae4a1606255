#include "clients/net/log_failure.hpp"

#include <spdlog/spdlog.h>

namespace healthsweep::clients::net {

void LogFailure::operator()(std::exception_ptr e) const {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("{}: {}", what_, ex.what());
    } catch (...) {
      spdlog::error("{}: unknown exception", what_);
    }
  }
  if (then_) then_();
}

}  // namespace healthsweep::clients::net
