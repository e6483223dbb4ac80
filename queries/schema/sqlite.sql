-- Reference schema of a one-stop electronic system (DESIGN §2), SQLite (timestamps as ISO-8601 text).
CREATE TABLE agencies (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_code TEXT NULL,
    level TEXT NOT NULL
);
CREATE TABLE sectors (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE procedures (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sector_code TEXT NOT NULL,
    deadline_days REAL NULL,
    online_level TEXT NOT NULL,
    -- Optional (DESIGN §2, §8): the procedure carries a fee or charge.
    has_fee BOOLEAN NULL
);
CREATE TABLE dossiers (
    code TEXT PRIMARY KEY,
    procedure_code TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    channel INTEGER NULL,
    status INTEGER NOT NULL,
    received_at TEXT NULL,
    due_at TEXT NULL,
    finished_at TEXT NULL,
    returned_at TEXT NULL,
    digitized INTEGER NOT NULL DEFAULT 0,
    e_result INTEGER NOT NULL DEFAULT 0,
    paid_online INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX dossiers_updated_at ON dossiers (updated_at);
CREATE TABLE supplements (
    dossier_code TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    resumed_at TEXT NULL
);
CREATE INDEX supplements_dossier ON supplements (dossier_code);
CREATE TABLE apologies (
    dossier_code TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    new_due_at TEXT NULL
);
CREATE INDEX apologies_dossier ON apologies (dossier_code);
CREATE TABLE evaluations (
    dossier_code TEXT NULL,
    agency_code TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    rating TEXT NOT NULL
);
CREATE INDEX evaluations_evaluated_at ON evaluations (evaluated_at);
