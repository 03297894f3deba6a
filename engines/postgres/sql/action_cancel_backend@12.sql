-- Cancel the statement of an action's own backend $1, from another connection.
SELECT pg_cancel_backend($1)
