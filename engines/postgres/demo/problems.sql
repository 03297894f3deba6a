-- The problems a real database audit finds, planted on purpose so dbtop has something to show.
-- Runs after schema.sql, with the same psql variables (:rows, :users, :channels, :posts,
-- :scheduled), split at the `-- @step` lines the same way.
--
-- Planted problem 7, no backups, needs no SQL: nothing here ever takes a backup or archives WAL.

-- @step planting a duplicate and an unused index
-- Planted problem 1: a duplicate index. posts already has posts_channel_id_published_at_idx on
-- (channel_id, published_at); a second migration added the same columns again under another name.
-- Both are maintained on every write; only one is ever used.
CREATE INDEX idx_posts_channel_published ON posts (channel_id, published_at);

-- Planted problem 2: an unused index of more than 10 MB at the default million rows. It backs no
-- constraint, and no query of the workload filters or sorts post_metrics by recorded_at alone,
-- so pg_stat_user_indexes.idx_scan stays 0 while every insert still pays for it.
CREATE INDEX post_metrics_recorded_at_idx ON post_metrics (recorded_at);

-- @step planting foreign keys with mixed ON DELETE rules
-- Planted problem 3: foreign keys to one table (posts) with inconsistent ON DELETE rules.
-- Deleting a post cascades to its post_metrics (post_metrics_post_id_fkey, ON DELETE CASCADE in
-- schema.sql) but is refused while a scheduled post refers to it (RESTRICT here): half of the
-- application expects deletes to clean up, the other half expects them to fail.
ALTER TABLE scheduled_posts ADD CONSTRAINT scheduled_posts_post_id_fkey
    FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE RESTRICT;

-- @step building materialized views (one never refreshed, one without a unique index)
-- Planted problem 4: a materialized view without any unique index. It is populated and has an
-- index, but not a unique one, so REFRESH MATERIALIZED VIEW CONCURRENTLY is refused and every
-- refresh locks readers out.
CREATE MATERIALIZED VIEW post_engagement_totals AS
SELECT m.post_id,
       max(m.recorded_at) AS last_sample_at,
       max(m.impressions) AS impressions,
       max(m.reach) AS reach,
       max(m.likes + m.comments + m.shares + m.saves) AS engagements,
       max(m.clicks) AS clicks
FROM post_metrics m
GROUP BY m.post_id;

CREATE INDEX post_engagement_totals_impressions_idx ON post_engagement_totals (impressions);

-- Planted problem 5: a materialized view that was never refreshed. Created WITH NO DATA, it is
-- unpopulated (pg_matviews.ispopulated = false) and every query on it fails with
-- "materialized view ... has not been populated".
CREATE MATERIALIZED VIEW weekly_top_posts AS
SELECT p.channel_id,
       date_trunc('week', m.recorded_at) AS week,
       m.post_id,
       max(m.impressions) AS impressions,
       rank() OVER (PARTITION BY p.channel_id, date_trunc('week', m.recorded_at)
                    ORDER BY max(m.impressions) DESC) AS position
FROM post_metrics m
JOIN posts p ON p.id = m.post_id
GROUP BY p.channel_id, date_trunc('week', m.recorded_at), m.post_id
WITH NO DATA;

CREATE UNIQUE INDEX weekly_top_posts_channel_id_week_post_id_key ON weekly_top_posts (channel_id, week, post_id);

-- @step bloating scheduled_posts with dead tuples
-- Planted problem 6: a table full of dead tuples. Autovacuum is switched off for scheduled_posts
-- (someone did it during an incident and never switched it back), then a retry loop bumped
-- every row three times. One transaction, so no scan in between prunes the old versions: three
-- dead row versions remain for every live one, and nothing will ever vacuum them. The foreign
-- key above is added first because validating it scans the table and would prune them.
ALTER TABLE scheduled_posts SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);

BEGIN;
UPDATE scheduled_posts SET attempts = attempts + 1, updated_at = now();
UPDATE scheduled_posts SET attempts = attempts + 1, updated_at = now(), last_error = 'upstream timeout';
UPDATE scheduled_posts SET attempts = attempts + 1, updated_at = now(), last_error = 'rate limited';
COMMIT;
