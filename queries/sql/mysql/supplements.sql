-- Canonical columns: dossier_code, requested_at, resumed_at (NULL while the citizen has not resubmitted)
SELECT dossier_code, requested_at, resumed_at FROM supplements
