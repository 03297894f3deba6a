-- The reporting queries of the demo workload: aggregates over post_metrics that take from about
-- 100 ms to 2 s at a million rows. One query per `-- name:` section; $1, $2 are bound by the
-- workload. None of them filters or sorts post_metrics by recorded_at alone, so the planted
-- unused index (post_metrics_recorded_at_idx) stays unused.

-- name: top_channels_by_kind
SELECT p.channel_id,
       sum(m.impressions) AS impressions,
       sum(m.likes + m.comments + m.shares + m.saves) AS engagements
FROM post_metrics m
JOIN posts p ON p.id = m.post_id
WHERE p.kind = $1
GROUP BY p.channel_id
ORDER BY impressions DESC
LIMIT 20

-- name: metrics_by_source
SELECT source, count(*) AS samples, avg(clicks)::float8 AS avg_clicks, max(impressions) AS max_impressions
FROM post_metrics
GROUP BY source

-- name: clicks_by_country_for_plan
SELECT u.country, count(*) AS samples, sum(m.clicks) AS clicks
FROM post_metrics m
JOIN posts p ON p.id = m.post_id
JOIN users u ON u.id = p.author_id
WHERE u.plan = $1
GROUP BY u.country
ORDER BY clicks DESC

-- name: impression_percentiles_for_posts
SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY impressions) AS percentiles
FROM post_metrics
WHERE post_id BETWEEN $1 AND $2

-- name: engagement_rate_by_kind
SELECT p.kind,
       avg((m.likes + m.comments + m.shares)::float8 / nullif(m.impressions, 0)) AS engagement_rate
FROM post_metrics m
JOIN posts p ON p.id = m.post_id
GROUP BY p.kind
ORDER BY engagement_rate DESC
