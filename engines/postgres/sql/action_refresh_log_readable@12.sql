-- Whether dbtop's refresh log is installed and this role may read it.
SELECT CASE WHEN to_regclass('dbtop.refresh_log') IS NOT NULL
            THEN has_table_privilege(to_regclass('dbtop.refresh_log'), 'SELECT') ELSE false END
