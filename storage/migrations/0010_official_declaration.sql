-- The not-an-official declaration is a question with two answers (SPEC §2, issue 14): who
-- said they are an official of the city or a district, or an employee of a body they fund,
-- is told once why participatory budgeting is closed to them, and is not asked again.
-- At most one of declared_not_official_at and declared_official_at is set.
ALTER TABLE people ADD COLUMN declared_official_at TEXT;
