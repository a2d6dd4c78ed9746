-- 0021_console_board_index: the console board's newest cards per state come from an index.
-- Why: the board shows the most recently moved tickets of each state (a capped column) and counts
-- the rest; with this index that is one short index scan per state whatever the factory's size.

create index tickets_board_idx on loopwright.tickets (state, state_changed_at desc, id desc);
