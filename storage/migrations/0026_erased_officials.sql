-- /deleteme keeps the record of what an official did and drops only the link to them
-- (storage/privacy.py: erase_person), as roles.granted_by already: a broadcast outlives the
-- admin who made it. SQLite cannot drop a NOT NULL constraint, so the column is replaced by a
-- nullable one of the same name (both engines take these four statements).
ALTER TABLE broadcasts ADD COLUMN created_by_official INTEGER;
UPDATE broadcasts SET created_by_official = created_by;
ALTER TABLE broadcasts DROP COLUMN created_by;
ALTER TABLE broadcasts RENAME COLUMN created_by_official TO created_by;
