// Runs the built `weir` binary as a child process and captures its output.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace weir::testing {

struct RunResult {
  int rc = -1;
  std::string out;
  std::string err;
  // stdout as JSON lines
  std::vector<nlohmann::json> rows() const {
    std::vector<nlohmann::json> v;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    return v;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) v.push_back(line);
    return v;
  }
};

// A started `weir` process; wait() collects its result.
class Child {
 public:
  // `prefix`: a program and its arguments that run weir (e.g. setpriv ...).
  Child(const std::vector<std::string>& args, const std::string& input, const std::filesystem::path& scratch,
        const std::vector<std::string>& prefix = {})
      : base_(scratch / ("run-" + std::to_string(++counter()))) {
    std::filesystem::create_directories(scratch);
    { std::ofstream(base_.string() + ".in", std::ios::binary) << input; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, (base_.string() + ".in").c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, (base_.string() + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, (base_.string() + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> full = prefix;
    full.push_back(WEIR_CLI_PATH);
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, full[0].c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  RunResult wait(std::chrono::seconds limit = std::chrono::seconds(30)) {
    RunResult r;
    if (pid_ < 0) return r;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        r.err = "(killed after the time limit) ";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(base_.string() + ".out");
    r.err += slurp(base_.string() + ".err");
    return r;
  }
  void signal(int sig) { if (pid_ > 0) kill(pid_, sig); }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  static std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::filesystem::path base_;
  pid_t pid_ = -1;
};

inline RunResult run_weir(const std::vector<std::string>& args, const std::string& input,
                          const std::filesystem::path& scratch) {
  return Child(args, input, scratch).wait();
}

}  // namespace weir::testing
