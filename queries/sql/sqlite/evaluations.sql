-- Canonical columns: dossier_code (may be NULL), agency_code, evaluated_at,
-- rating (very_satisfied, satisfied, dissatisfied)
SELECT dossier_code, agency_code, evaluated_at, rating FROM evaluations
