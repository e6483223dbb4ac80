-- Canonical columns: code, name, sector_code, deadline_days (working days, NULL = none), online_level,
-- and the optional has_fee (the procedure carries a fee or charge; leave it out if the
-- system does not know: the service index's payment indicators are then not applicable)
SELECT code, name, sector_code, deadline_days, online_level, has_fee FROM procedures
