-- The roles whose stored password is an MD5 hash. pg_authid is readable by superusers only; for
-- other roles this is a gap ("not checked"), never an empty list.
SELECT rolname AS name
FROM pg_authid
WHERE rolpassword LIKE 'md5%'
ORDER BY rolname
