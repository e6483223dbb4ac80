-- Reference schema of a one-stop electronic system (DESIGN §2), MySQL/MariaDB.
CREATE TABLE agencies (
    code VARCHAR(64) PRIMARY KEY,
    name TEXT NOT NULL,
    parent_code TEXT NULL,
    level TEXT NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE sectors (
    code VARCHAR(64) PRIMARY KEY,
    name TEXT NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE procedures (
    code VARCHAR(64) PRIMARY KEY,
    name TEXT NOT NULL,
    sector_code TEXT NOT NULL,
    deadline_days DOUBLE NULL,
    online_level TEXT NOT NULL,
    -- Optional (DESIGN §2, §8): the procedure carries a fee or charge.
    has_fee BOOLEAN NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE dossiers (
    code VARCHAR(64) PRIMARY KEY,
    procedure_code TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    channel SMALLINT NULL,
    status SMALLINT NOT NULL,
    received_at DATETIME NULL,
    due_at DATETIME NULL,
    finished_at DATETIME NULL,
    returned_at DATETIME NULL,
    digitized BOOLEAN NOT NULL DEFAULT FALSE,
    e_result BOOLEAN NOT NULL DEFAULT FALSE,
    paid_online BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at DATETIME NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX dossiers_updated_at ON dossiers (updated_at);
CREATE TABLE supplements (
    dossier_code VARCHAR(64) NOT NULL,
    requested_at DATETIME NOT NULL,
    resumed_at DATETIME NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX supplements_dossier ON supplements (dossier_code);
CREATE TABLE apologies (
    dossier_code VARCHAR(64) NOT NULL,
    issued_at DATETIME NOT NULL,
    new_due_at DATETIME NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX apologies_dossier ON apologies (dossier_code);
CREATE TABLE evaluations (
    dossier_code VARCHAR(64) NULL,
    agency_code TEXT NOT NULL,
    evaluated_at DATETIME NOT NULL,
    rating TEXT NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX evaluations_evaluated_at ON evaluations (evaluated_at);
