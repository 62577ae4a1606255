// GET /admin/cluster (SPEC section 4): this instance, its lease, and every
// member's lease as last read from PostgreSQL.
#pragma once

#include <string>

#include "cluster/membership.hpp"

namespace healthsweep::cluster {

std::string cluster_json(const Membership& membership);

}  // namespace healthsweep::cluster
