// Interned reasons: shared, freed when unused, bounded in length.
#include <gtest/gtest.h>

#include "sweeps/decide/target_text.hpp"

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::decide;
namespace {

TEST(TextPool, EqualTextsShareOneCopy) {
  TextPool pool;
  Text a = pool.intern("heartbeat expired");
  Text b = pool.intern("heartbeat expired");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.view(), "heartbeat expired");
  EXPECT_EQ(pool.size(), 1u);
}

TEST(TextPool, UnreferencedTextIsFreed) {
  TextPool pool;
  {
    Text a = pool.intern("exit 137");
    Text copy = a;
    Text moved = std::move(copy);
    a = Text();
    EXPECT_EQ(pool.size(), 1u);
  }
  EXPECT_EQ(pool.size(), 0u);
}

TEST(TextPool, SelfAssignmentKeepsTheText) {
  TextPool pool;
  Text a = pool.intern("x");
  const Text& same = a;
  a = same;
  EXPECT_EQ(a.view(), "x");
  EXPECT_EQ(pool.size(), 1u);
}

TEST(TextPool, EmptyTextNeedsNoEntry) {
  TextPool pool;
  Text e = pool.intern("");
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(pool.size(), 0u);
}

TEST(TextPool, LongTextsAreCutAtAUtf8Boundary) {
  TextPool pool;
  std::string long_text(TextPool::max_length - 1, 'a');
  long_text += "\xC3\xA9tail";  // 'é' straddles the limit
  Text t = pool.intern(long_text);
  EXPECT_EQ(t.view().size(), TextPool::max_length - 1);
  EXPECT_EQ(truncate_utf8("abc", 10), "abc");
}

}  // namespace
}  // namespace healthsweep::sweeps
