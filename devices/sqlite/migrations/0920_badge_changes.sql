-- 0920: a count of the changes of each user's badge (set to another
-- value, removed). A badge sign-in reads it with the user its badge
-- names and again once its session exists: a change in between ends the
-- session, which the change's own ending of badge sessions may not have
-- found.
ALTER TABLE users ADD COLUMN badge_changes INTEGER NOT NULL DEFAULT 0;
