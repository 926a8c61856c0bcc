# Review M2: a value a template shows without a filter ({{ signed_at }}) reads like |moment and |day
# (handover.core.moments), the same in both languages: 2026-12-04 15:31.
DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
