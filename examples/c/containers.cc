// A C++ program for mote's tests: libc++'s containers and strings, whose operator new and delete
// call malloc and free, and over-aligned objects, whose operator new calls aligned_alloc or
// posix_memalign. Built with the shim, it allocates from mote alone. Its output depends on no
// allocator.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

uint32_t seed = 2463534242u;

uint32_t next() {  // xorshift32: the same numbers on every allocator
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  return seed;
}

struct alignas(256) Page {
  unsigned char bytes[1000];
};

}  // namespace

int main() {
  std::map<std::string, int> ordered;
  std::unordered_map<std::string, std::vector<int>> where;
  std::vector<std::unique_ptr<std::string>> kept;
  std::vector<std::unique_ptr<Page>> pages;
  bool aligned = true;
  for (int i = 0; i < 6000; i++) {
    std::string word(1 + next() % 12, 'a');
    for (char &c : word) c = static_cast<char>('a' + next() % 5);
    ordered[word]++;
    where[word].push_back(i);
    kept.push_back(std::make_unique<std::string>(word + "/" + word));
    if (i % 3 == 0) kept.erase(kept.begin() + next() % kept.size());
    if (i % 50 == 0) {
      pages.push_back(std::make_unique<Page>());
      aligned &= reinterpret_cast<uintptr_t>(pages.back().get()) % alignof(Page) == 0;
    }
    if (i % 700 == 699) pages.erase(pages.begin(), pages.begin() + pages.size() / 2);
  }
  uint32_t sum = 2166136261u;
  for (const auto &[word, count] : ordered) {
    for (char c : word) sum = (sum ^ static_cast<unsigned char>(c)) * 16777619u;
    sum ^= count + where[word].size();
  }
  std::printf("%zu distinct words, %zu strings kept, %zu pages %s, sum %08x\n", ordered.size(),
              kept.size(), pages.size(), aligned ? "aligned" : "MISALIGNED", sum);
  return aligned ? 0 : 1;
}
