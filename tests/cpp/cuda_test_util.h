// What both CUDA test files need: a checked runtime call, device memory and
// graphs freed on scope exit (also on a failed assertion), and a fixture
// with its own non-blocking stream.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>

#include "specmeta/expand.h"

#define CHECK_CUDA(expr)                                                                              \
  do {                                                                                                \
    const cudaError_t check_cuda_err_ = (expr);                                                       \
    if (check_cuda_err_ != cudaSuccess) {                                                             \
      FAIL() << #expr << " failed: " << cudaGetErrorName(check_cuda_err_) << " ("                     \
             << cudaGetErrorString(check_cuda_err_) << ")";                                           \
    }                                                                                                 \
  } while (0)

namespace specmeta_test {

struct DeviceMem {
  void* p = nullptr;
  size_t bytes = 0;
  DeviceMem() = default;
  DeviceMem(const DeviceMem&) = delete;
  DeviceMem& operator=(const DeviceMem&) = delete;
  ~DeviceMem() {
    if (p != nullptr) cudaFree(p);
  }
};

struct OwnedGraph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  OwnedGraph() = default;
  OwnedGraph(const OwnedGraph&) = delete;
  OwnedGraph& operator=(const OwnedGraph&) = delete;
  ~OwnedGraph() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};

// Skips the test when no CUDA device is visible; otherwise gives it a
// non-blocking stream, which is synchronised and destroyed after the test,
// and checks that the test left no runtime error behind.
class CudaStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
    CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    if (stream_ != nullptr) {
      EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
      EXPECT_EQ(cudaStreamDestroy(stream_), cudaSuccess);
    }
    if (specmeta::cuda_available()) EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
  cudaStream_t stream_ = nullptr;
};

}  // namespace specmeta_test
