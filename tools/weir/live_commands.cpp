// Subcommands that act on a running process, and so need a live owner:
// pause, resume, set-workers (they change nothing stored: a paused group
// resumes when its process restarts, and the worker count is the process's
// own) and console-url.
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "live.hpp"
#include "weir/control.hpp"

namespace weir::cli {

namespace {

std::unique_ptr<LiveOwner> need_owner(const Common& c, const std::string& command) {
  open_inspector(c.dir);  // a weir journal, with a clear error if not
  auto owner = LiveOwner::connect(c.dir, command);
  if (!owner)
    fail("no process owns " + c.dir + "; `weir " + command +
         "` acts on a running group (pausing and worker counts are not stored)");
  return owner;
}

}  // namespace

int cmd_pause(const Common& c, const GroupControlOptions& o, bool pause) {
  auto owner = need_owner(c, pause ? "pause" : "resume");
  Row req{{"verb", pause ? "pause" : "resume"}, {"group", o.group}};
  if (o.topic) req["topic"] = *o.topic;
  if (o.partition) req["partition"] = *o.partition;
  owner->request(req);
  Table t({"group", "topic", "partition", "state"}, c.json);
  Row r;
  r["group"] = o.group;
  r["topic"] = o.topic ? Row(*o.topic) : Row("all");
  r["partition"] = o.partition ? Row(*o.partition) : Row("all");
  r["state"] = pause ? "paused" : "resumed";
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

int cmd_set_workers(const Common& c, const GroupControlOptions& o) {
  auto owner = need_owner(c, "set-workers");
  owner->request(Row{{"verb", "set_workers"}, {"group", o.group}, {"workers", o.workers}});
  Table t({"group", "workers"}, c.json);
  Row r;
  r["group"] = o.group;
  r["workers"] = o.workers;
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

int cmd_console_url(const Common& c) {
  open_inspector(c.dir);
  auto owned = Inspector::owned(c.dir);
  if (!owned) fail_status(owned.status());
  if (!*owned) fail("no process owns " + c.dir + "; the console is served by the owning process");
  const std::string path = c.dir + "/" + std::string(kConsoleUrlFileName);
  std::ifstream f(path);
  std::string url;
  if (!f || !std::getline(f, url) || url.empty())
    fail("the owner of " + c.dir + " serves no web console (open its bus with Options::console.enabled = true)");
  Table t({"url"}, c.json);
  Row r;
  r["url"] = url;
  t.add(std::move(r));
  if (c.json) {
    t.flush();
  } else {
    std::printf("%s\n", url.c_str());  // bare, so that $(weir console-url DIR) is the URL
    std::fflush(stdout);
  }
  return kExitOk;
}

}  // namespace weir::cli
