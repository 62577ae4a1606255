#include <gtest/gtest.h>
#include "sweeps/evidence.hpp"
TEST(Evidence, LayerNamesAreStable) {
  EXPECT_EQ(healthsweep::sweeps::to_string(healthsweep::sweeps::Layer::passive), "passive");
}
