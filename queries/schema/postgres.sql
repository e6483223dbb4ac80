-- Reference schema of a one-stop electronic system (DESIGN §2), PostgreSQL.
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
    deadline_days DOUBLE PRECISION NULL,
    online_level TEXT NOT NULL,
    -- Optional (DESIGN §2, §8): the procedure carries a fee or charge.
    has_fee BOOLEAN NULL
);
CREATE TABLE dossiers (
    code TEXT PRIMARY KEY,
    procedure_code TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    channel SMALLINT NULL,
    status SMALLINT NOT NULL,
    received_at TIMESTAMP NULL,
    due_at TIMESTAMP NULL,
    finished_at TIMESTAMP NULL,
    returned_at TIMESTAMP NULL,
    digitized BOOLEAN NOT NULL DEFAULT FALSE,
    e_result BOOLEAN NOT NULL DEFAULT FALSE,
    paid_online BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX dossiers_updated_at ON dossiers (updated_at);
CREATE TABLE supplements (
    dossier_code TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    resumed_at TIMESTAMP NULL
);
CREATE INDEX supplements_dossier ON supplements (dossier_code);
CREATE TABLE apologies (
    dossier_code TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    new_due_at TIMESTAMP NULL
);
CREATE INDEX apologies_dossier ON apologies (dossier_code);
CREATE TABLE evaluations (
    dossier_code TEXT NULL,
    agency_code TEXT NOT NULL,
    evaluated_at TIMESTAMP NOT NULL,
    rating TEXT NOT NULL
);
CREATE INDEX evaluations_evaluated_at ON evaluations (evaluated_at);
