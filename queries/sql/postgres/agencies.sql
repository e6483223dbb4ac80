-- Canonical columns: code, name, parent_code, level
SELECT code, name, parent_code, level FROM agencies
