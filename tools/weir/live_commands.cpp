// Subcommands that act on a running group, and so need a live owner: pause,
// resume, set-workers. They change nothing stored: a paused group resumes
// when its process restarts, and the worker count is the process's own.
#include "commands.hpp"
#include "live.hpp"

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
  if (o.partition) req["partition"] = *o.partition;
  owner->request(req);
  Table t({"group", "partition", "state"}, c.json);
  Row r;
  r["group"] = o.group;
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

}  // namespace weir::cli
