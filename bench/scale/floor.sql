-- The floor of the scale benchmark (bench/scale/run.sh): PostgreSQL's own
-- time for aggregate SQL that yields the counts behind motcua's metric
-- families, computed inside the database in one GROUP BY pass over each
-- table. A full recompute that reads the rows out of the database to
-- classify them cannot beat it.
--
-- It approximates the KPIs (DESIGN §3) as far as plain SQL goes and is
-- therefore cheaper than the real definition: supplements do not stop the
-- clock, pending states compare due_at with now (status 5/6 = paused), a
-- resolved dossier without due_at counts as on time, and there is no
-- working-day calendar, no processing-time histogram, no Biểu 06 report
-- columns and no apologies. Each row is classified once (CASE); the groups
-- are counted per procedure and then joined to the small procedures table
-- for the sector.
--
-- work_mem is raised so the aggregate stays in memory as one hash table.
-- The planner expects millions of groups (there are about 23,000 at 10M
-- dossiers), and with 256 MB it sometimes chose a sort that spilled to
-- disk instead: 14.3-16.3 s where the hash plan takes 4.5-4.9 s on the same
-- machine, a floor three times too high. At 1 GB it takes the hash plan.

SET work_mem = '1GB';

-- 1. Intake dossiers by agency, sector, channel and outcome: resolved
--    early / on_time / late, cancelled withdrawn / stopped, pending
--    in_time / overdue / paused; with the digitized counts.
WITH per_procedure AS (
    SELECT d.agency_code,
           d.procedure_code,
           COALESCE(d.channel, 1) AS channel,
           CASE
               WHEN d.status IN (9, 10) THEN
                   CASE WHEN d.finished_at > d.due_at THEN 'late'
                        WHEN d.finished_at::date < d.due_at::date THEN 'early'
                        ELSE 'on_time' END
               WHEN d.status = 7 THEN 'withdrawn'
               WHEN d.status = 8 THEN 'stopped'
               WHEN d.status IN (5, 6) THEN 'paused'
               WHEN d.due_at < (SELECT timezone('Asia/Ho_Chi_Minh', now())) THEN 'overdue'
               ELSE 'in_time'
           END AS outcome,
           COUNT(*) AS dossiers,
           COUNT(*) FILTER (WHERE d.digitized) AS digitized_dossier,
           COUNT(*) FILTER (WHERE d.e_result) AS digitized_result
    FROM dossiers d
    WHERE d.status BETWEEN 2 AND 10 AND d.status <> 3      -- intake, known status
      AND d.received_at IS NOT NULL                        -- the rejected rows of DESIGN §2 left out
      AND NOT (d.status IN (9, 10) AND d.finished_at IS NULL)
      AND (d.finished_at IS NULL OR d.finished_at >= d.received_at)
    GROUP BY 1, 2, 3, 4
)
SELECT g.agency_code,
       COALESCE(p.sector_code, 'unknown') AS sector,
       g.channel,
       g.outcome,
       SUM(g.dossiers) AS dossiers,
       SUM(g.digitized_dossier) AS digitized_dossier,
       SUM(g.digitized_result) AS digitized_result
FROM per_procedure g
LEFT JOIN procedures p ON p.code = g.procedure_code
GROUP BY 1, 2, 3, 4;

-- 2. Evaluations by agency and rating.
SELECT agency_code, rating, COUNT(*) AS evaluations
FROM evaluations
WHERE rating IN ('very_satisfied', 'satisfied', 'dissatisfied')
GROUP BY agency_code, rating;
