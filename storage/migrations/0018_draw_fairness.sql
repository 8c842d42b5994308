-- A panel's published draw also carries every applicant's selection probability and the
-- lottery's fairness figures (issue 23): JSON, as domain.sortition.Fairness.as_dict().
ALTER TABLE panel_draws ADD COLUMN fairness TEXT;
