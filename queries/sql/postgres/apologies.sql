-- Canonical columns: dossier_code, issued_at, new_due_at
SELECT dossier_code, issued_at, new_due_at FROM apologies
