#include "token.hpp"
#include <gtest/gtest.h>
TEST(Smoke, Builds) { EXPECT_TRUE(tenant_guard::core::parse_tenant_id("00000000-0000-0000-0000-000000000001")); }
