-- The last $1 bytes of the server's current stderr-format log file (never the whole file), as bytes:
-- a cut inside a multibyte character would make pg_read_file refuse the text. file is NULL when the
-- server keeps no stderr log file (any_file then says whether it keeps a csvlog or jsonlog one).
SELECT l.file, pg_current_logfile() AS any_file, s.size AS file_size,
       pg_read_binary_file(l.file, greatest(s.size - $1, 0), $1, true) AS tail
FROM (SELECT pg_current_logfile('stderr') AS file) l
CROSS JOIN LATERAL pg_stat_file(l.file, true) s
