-- Canonical columns: code, name, sector_code, deadline_days (working days, NULL = none), online_level
SELECT code, name, sector_code, deadline_days, online_level FROM procedures
