-- 0009_console_notify: wake the operator console when a ticket moves or an agent run changes.
-- Why: the console is live through LISTEN/NOTIFY, not page polling. Every accepted journal row and
-- every agent_runs insert/update sends the ticket's id on channel `loopwright_console`; batch journal
-- rows send `batch:<id>`. NOTIFY is delivered at commit (so a page never sees a rolled-back move) and
-- Postgres folds identical payloads of one transaction into one notification.

create function loopwright.notify_console_ticket() returns trigger language plpgsql as $$
begin
  perform pg_notify('loopwright_console', new.ticket_id::text);
  return null;
end;
$$;

create function loopwright.notify_console_batch() returns trigger language plpgsql as $$
begin
  perform pg_notify('loopwright_console', 'batch:' || new.batch_id::text);
  return null;
end;
$$;

create trigger ticket_events_notify_console after insert on loopwright.ticket_events
  for each row execute function loopwright.notify_console_ticket();
create trigger agent_runs_notify_console after insert or update on loopwright.agent_runs
  for each row execute function loopwright.notify_console_ticket();
create trigger batch_events_notify_console after insert on loopwright.batch_events
  for each row execute function loopwright.notify_console_batch();
