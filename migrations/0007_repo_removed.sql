-- 0007_repo_removed: `loopwright repo remove` for a repository that has tickets.
-- Why: the journal is immutable, so a repository whose tickets have history cannot be deleted; it
-- is marked removed instead (hidden from lists, no new tickets) and its name stays reserved for
-- that history. A repository without tickets is deleted outright.
alter table loopwright.repositories add column removed_at timestamptz;
