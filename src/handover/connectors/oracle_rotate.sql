-- Handover: set new password verifiers on Oracle where Handover cannot connect (第二十六条第2项), by the firm's DBA
-- under the custodian's supervision. Never a password: handover_verifiers.sql (from Handover, beside this script)
-- holds one ALTER USER … IDENTIFIED BY VALUES 'S:…;T:…' per account, verifiers computed by Handover.
-- Run as SYS (USER$ is read to prove the result):   sqlplus -S -L / as sysdba @oracle_rotate.sql
-- It writes handover_rotate.lst: per user, SHA-256 of its stored S:/T: verifiers (never the verifiers); give it
-- back to Handover, which compares it with what it computed (connectors/change/oracle.py offline_check).
-- The statements run before the spool starts and unechoed: an error never copies a verifier into the spool.
-- STANDARD_HASH needs 12c; on 11g the proof line fails (ORA-00904) and the accounts stay unverified.
SET HEADING OFF FEEDBACK OFF PAGESIZE 0 LINESIZE 32767 TRIMSPOOL ON TAB OFF ECHO OFF VERIFY OFF TERMOUT OFF
WHENEVER SQLERROR CONTINUE
@handover_verifiers.sql
SPOOL handover_rotate.lst
SELECT 'HANDOVER|verifier|' || name || '|' || LOWER(RAWTOHEX(STANDARD_HASH(REGEXP_SUBSTR(spare4, 'S:[0-9A-F]{60}') || ';' || REGEXP_SUBSTR(spare4, 'T:[0-9A-F]{160}'), 'SHA256'))) FROM sys.user$ WHERE type# = 1 AND spare4 IS NOT NULL ORDER BY name;
SELECT 'HANDOVER|done|' || TO_CHAR(SYSDATE, 'YYYY-MM-DD HH24:MI:SS') FROM dual;
SPOOL OFF
EXIT
