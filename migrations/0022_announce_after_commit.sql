-- 0022_announce_after_commit: the engine announces its own writes to the console after they commit.
-- Why: a NOTIFY inside a transaction holds a lock for the whole server from the start of its commit
-- to the end, fsync included, so every transition that notified from a trigger committed one at a
-- time. The engine now sends each journal row's notification (the ticket id on
-- `loopwright_console`) in a statement of its own after the commit (src/db/announce.ts). That
-- covers the journal rows, which only the engine writes, and the agent runs it queues and
-- supersedes with them; other changes of an agent run still notify from the trigger.

drop trigger ticket_events_notify_console on loopwright.ticket_events;
drop trigger agent_runs_notify_console on loopwright.agent_runs;
create trigger agent_runs_notify_console after update on loopwright.agent_runs
  for each row when (not (old.status = 'queued' and new.status = 'superseded'))
  execute function loopwright.notify_console_ticket();
