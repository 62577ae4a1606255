#include "tests/support/metrics_text.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>

namespace healthsweep::testing {
namespace {

constexpr std::string_view kText =
    "# HELP healthsweep_remediations_total Remediation actions by result.\n"
    "# TYPE healthsweep_remediations_total counter\n"
    "healthsweep_remediations_total{action=\"restart\",result=\"ok\"} 3\n"
    "healthsweep_failsafe_active 1\n"
    "healthsweep_sweep_duration_seconds_bucket{sweep=\"proactive\",le=\"+Inf\"} 7\n"
    "healthsweep_sweep_duration_seconds_sum{sweep=\"proactive\"} 0.25\n";

TEST(MetricsText, ReadsASeriesWhateverTheLabelOrder) {
  EXPECT_EQ(series_value(kText, "healthsweep_remediations_total{action=\"restart\",result=\"ok\"}"), 3);
  EXPECT_EQ(series_value(kText, "healthsweep_remediations_total{result=\"ok\",action=\"restart\"}"), 3);
  EXPECT_EQ(series_value(kText, "healthsweep_failsafe_active"), 1);
  EXPECT_EQ(series_value(kText, "healthsweep_sweep_duration_seconds_sum{sweep=\"proactive\"}"), 0.25);
  EXPECT_EQ(series_value(kText, "healthsweep_sweep_duration_seconds_bucket{le=\"+Inf\",sweep=\"proactive\"}"), 7);
}

TEST(MetricsText, AnAbsentSeriesOfADeclaredFamilyIsZero) {
  EXPECT_EQ(series_value(kText, "healthsweep_remediations_total{action=\"webhook\",result=\"ok\"}"), 0);
  EXPECT_EQ(series_value(kText, "healthsweep_auth_failures_total"), 0);
}

TEST(MetricsText, AMisspelledNameOrLabelFailsInsteadOfReadingZero) {
  double v = 0;
  EXPECT_NONFATAL_FAILURE(v = series_value(kText, "healthsweep_remediation_total{action=\"restart\",result=\"ok\"}"),
                          "no family of that name");
  EXPECT_TRUE(std::isnan(v));
  EXPECT_NONFATAL_FAILURE(v = series_value(kText, "healthsweep_remediations_total{action=\"restart\"}"),
                          "has the labels {action, result}");
  EXPECT_TRUE(std::isnan(v));
  EXPECT_NONFATAL_FAILURE(series_value(kText, "healthsweep_failsafe_active{layer=\"x\"}"), "has the labels {}");
  EXPECT_NONFATAL_FAILURE(series_value(kText, "healthsweep_sweep_duration_seconds_max{sweep=\"p\"}"),
                          "no family of that name");
  EXPECT_NONFATAL_FAILURE(series_value(kText, "healthsweep_targets{state=\"online\""), "malformed");
}

TEST(MetricsText, AFamilysTotalSumsItsSeriesAndRefusesAnUnknownFamily) {
  EXPECT_EQ(family_total(kText, "healthsweep_remediations_total"), 3);
  EXPECT_EQ(family_total(kText, "healthsweep_transitions_total"), 0);
  EXPECT_NONFATAL_FAILURE(family_total(kText, "healthsweep_remediation_total"), "no family of that name");
}

}  // namespace
}  // namespace healthsweep::testing
