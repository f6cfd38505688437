// Does %gridid differ between launches, graph replays and kernel nodes of one graph?
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>
__global__ void k(unsigned long long* out, int slot) {
  unsigned long long g;
  asm volatile("mov.u64 %0, %%gridid;" : "=l"(g));
  if (threadIdx.x == 0 && blockIdx.x == gridDim.x - 1) out[slot] = g;
}
int main() {
  unsigned long long* d; cudaMalloc(&d, 64 * 8); cudaMemset(d, 0, 64 * 8);
  cudaStream_t s; cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  for (int i = 0; i < 3; ++i) k<<<1000, 256, 0, s>>>(d, i);
  cudaGraph_t g; cudaGraphExec_t e;
  cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
  k<<<1000, 256, 0, s>>>(d, 3); k<<<1000, 256, 0, s>>>(d, 4);
  cudaStreamEndCapture(s, &g); cudaGraphInstantiate(&e, g, 0);
  unsigned long long h[64];
  for (int r = 0; r < 3; ++r) {
    cudaGraphLaunch(e, s); cudaStreamSynchronize(s);
    cudaMemcpy(h, d, 64 * 8, cudaMemcpyDeviceToHost);
    printf("replay %d: eager %llu %llu %llu graph nodes %llu %llu\n", r, h[0], h[1], h[2], h[3], h[4]);
  }
  for (int i = 0; i < 3; ++i) k<<<1000, 256, 0, s>>>(d, i);
  cudaStreamSynchronize(s); cudaMemcpy(h, d, 64 * 8, cudaMemcpyDeviceToHost);
  printf("eager again %llu %llu %llu; err %s\n", h[0], h[1], h[2], cudaGetErrorString(cudaGetLastError()));
}
