-- Handover: Oracle accounts and privileges, read-only (第二十二条, 第二十六条第2、3项).
-- Run as a user with SELECT_CATALOG_ROLE (or SELECT ANY DICTIONARY) in SQL*Plus:
--   sqlplus -S -L user@//host:1521/service @oracle_collect.sql
-- It writes handover_oracle.lst; import it with `handover discovery import --kind oracle-spool`.
-- Every row is one line `HANDOVER|section|field|field…`; statements a version lacks (LAST_LOGIN before 12c,
-- SYSBACKUP before 12c, ORACLE_MAINTAINED before 12c) fail with ORA-00904 and the rest goes on.
-- The live connector (connectors/oracle.py) runs these same statements, one by one.
SET HEADING OFF FEEDBACK OFF PAGESIZE 0 LINESIZE 32767 TRIMSPOOL ON TAB OFF ECHO OFF VERIFY OFF TERMOUT OFF
WHENEVER SQLERROR CONTINUE
SPOOL handover_oracle.lst
SELECT 'HANDOVER|version|' || version FROM v$instance;
SELECT 'HANDOVER|users|' || username || '|' || account_status || '|' || TO_CHAR(lock_date, 'YYYY-MM-DD HH24:MI:SS') || '|' || TO_CHAR(expiry_date, 'YYYY-MM-DD HH24:MI:SS') || '|' || profile || '|' || authentication_type || '|' || TO_CHAR(created, 'YYYY-MM-DD HH24:MI:SS') FROM dba_users ORDER BY username;
SELECT 'HANDOVER|last_login|' || username || '|' || TO_CHAR(last_login, 'YYYY-MM-DD HH24:MI:SS TZH:TZM') FROM dba_users WHERE last_login IS NOT NULL ORDER BY username;
SELECT 'HANDOVER|maintained|' || username || '|' || oracle_maintained FROM dba_users ORDER BY username;
SELECT 'HANDOVER|password_changed|' || name || '|' || TO_CHAR(ptime, 'YYYY-MM-DD HH24:MI:SS') FROM sys.user$ WHERE type# = 1 AND ptime IS NOT NULL ORDER BY name;
SELECT 'HANDOVER|role_privs|' || grantee || '|' || granted_role || '|' || admin_option FROM dba_role_privs ORDER BY grantee, granted_role;
SELECT 'HANDOVER|sys_privs|' || grantee || '|' || privilege || '|' || admin_option FROM dba_sys_privs ORDER BY grantee, privilege;
SELECT 'HANDOVER|pwfile|' || username || '|' || sysdba || '|' || sysoper FROM v$pwfile_users ORDER BY username;
SELECT 'HANDOVER|pwfile12|' || username || '|' || sysbackup || '|' || sysdg || '|' || syskm FROM v$pwfile_users ORDER BY username;
SELECT 'HANDOVER|profiles|' || profile || '|' || resource_name || '|' || limit FROM dba_profiles WHERE resource_type = 'PASSWORD' ORDER BY profile, resource_name;
SELECT 'HANDOVER|done|' || TO_CHAR(SYSDATE, 'YYYY-MM-DD HH24:MI:SS') FROM dual;
SPOOL OFF
EXIT
