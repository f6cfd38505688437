// Test entry point: GoogleTest's flags, plus --seed=N to replay the random
// cases of a failed run (every random test prints its seed).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "cases.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  constexpr const char kSeedFlag[] = "--seed=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kSeedFlag, sizeof(kSeedFlag) - 1) == 0) {
      specmeta_test::replay_seed() = std::strtoull(argv[i] + sizeof(kSeedFlag) - 1, nullptr, 0);
    }
  }
  return RUN_ALL_TESTS();
}
