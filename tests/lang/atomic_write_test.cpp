// lang::write_file_atomically, the one atomic file write: what it promises
// (lang/atomic_write.hpp) — whole replacement, mode and symbolic links kept,
// nothing left behind and the old file intact on failure, the file named.
#include "lang/atomic_write.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using spdec::lang::write_file_atomically;

namespace {

/// A fresh empty directory, removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("spdec-atomic-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ScratchDir(ScratchDir&&) = delete;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

}  // namespace

TEST_CASE("atomic write: creates a file and leaves no temporary", "[atomic_write]") {
  const ScratchDir dir("create");
  const fs::path file = dir.path() / "a.bin";
  const std::string bytes("one\0two", 7);
  REQUIRE_FALSE(write_file_atomically(file, bytes));
  CHECK(contents(file) == bytes);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"a.bin"});
  REQUIRE_FALSE(write_file_atomically(dir.path() / "empty", ""));
  CHECK(fs::file_size(dir.path() / "empty") == 0);
}

TEST_CASE("atomic write: an existing file is replaced whole, its mode kept", "[atomic_write]") {
  const ScratchDir dir("replace");
  const fs::path file = dir.path() / "config.toml";
  REQUIRE_FALSE(write_file_atomically(file, std::string(10000, 'x')));
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  REQUIRE_FALSE(write_file_atomically(file, "short"));
  CHECK(contents(file) == "short");  // nothing of the longer old file remains
  CHECK(fs::status(file).permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK(names_in(dir.path()).size() == 1);
}

TEST_CASE("atomic write: a symbolic link is written through", "[atomic_write]") {
  const ScratchDir dir("link");
  const fs::path target = dir.path() / "target.spde";
  const fs::path link = dir.path() / "link.spde";
  REQUIRE_FALSE(write_file_atomically(target, "old"));
  fs::create_symlink(target.filename(), link);
  REQUIRE_FALSE(write_file_atomically(link, "new"));
  CHECK(fs::is_symlink(link));
  CHECK(contents(target) == "new");
}

TEST_CASE("atomic write: a failed rename leaves the old file and no temporary", "[atomic_write]") {
  // A non-empty directory cannot be renamed over, even by root.
  const ScratchDir dir("rename");
  const fs::path blocked = dir.path() / "checkpoint.pt";
  fs::create_directories(blocked);
  std::ofstream(blocked / "inside") << "kept";
  const auto failure = write_file_atomically(blocked, "new bytes");
  REQUIRE(failure);
  CHECK(failure->file == blocked);
  CHECK(failure->message().find(blocked.string()) != std::string::npos);
  CHECK(failure->problem.find("cannot rename") != std::string::npos);
  CHECK(fs::is_directory(blocked));
  CHECK(contents(blocked / "inside") == "kept");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"checkpoint.pt"});
}

TEST_CASE("atomic write: a directory it cannot write names the file", "[atomic_write]") {
  const ScratchDir dir("missing");
  const fs::path file = dir.path() / "no" / "such" / "dir" / "samples.npy";
  const auto failure = write_file_atomically(file, "x");
  REQUIRE(failure);
  CHECK(failure->message().rfind(file.string() + ": ", 0) == 0);
  CHECK(failure->problem.find("temporary file") != std::string::npos);
  CHECK(names_in(dir.path()).empty());

  if (::geteuid() != 0) {  // root writes anywhere
    const fs::path locked = dir.path() / "locked";
    fs::create_directories(locked);
    const fs::path old = locked / "metrics.json";
    REQUIRE_FALSE(write_file_atomically(old, "old"));
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    const auto refused = write_file_atomically(old, "new");
    fs::permissions(locked, fs::perms::owner_all);
    REQUIRE(refused);
    CHECK(refused->message().find(old.string()) != std::string::npos);
    CHECK(contents(old) == "old");
    CHECK(names_in(locked) == std::vector<std::string>{"metrics.json"});
  }
}
