-- Canonical columns: code, procedure_code, agency_code, channel (1 direct, 2 online, 3 postal),
-- status (TrangThaiHoSo 1-10), received_at, due_at, finished_at, returned_at,
-- digitized, e_result, paid_online, updated_at.
-- Timestamps are local wall-clock time; a zoned type is converted to the configured zone.
SELECT code, procedure_code, agency_code, channel, status,
       received_at, due_at, finished_at, returned_at,
       digitized, e_result, paid_online, updated_at
FROM dossiers
