-- Canonical columns: code, name
SELECT code, name FROM sectors
