#!/bin/sh
# Tell a person that the nightly idf-etl run failed: the last lines of `idf-etl status`
# (what is open, since when) and of the run's log, mailed to $ALERT_EMAIL and/or
# POSTed to $ALERT_WEBHOOK; printed on stdout when neither is set (cron mails it).
#
#   pipelines/alert.sh WHAT    WHAT: the exit status (cron) or the unit name (systemd)
set -u
cd "$(dirname "$0")/.." || exit 1
what=${1:-unknown}
host=$(hostname)
subject="idf-etl nightly run failed on $host ($what)"
{
    echo "$subject at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "== idf-etl status (last lines) =="
    .venv/bin/idf-etl status --runs 3 --problems 5 2>&1 | tail -n 40
    echo
    echo "== the run's last log lines =="
    if [ -f data/idf-etl.log ]; then
        tail -n 20 data/idf-etl.log
    else
        journalctl --user -u idf-etl.service -n 20 --no-pager 2>&1
    fi
    echo
    echo "Next: idf-etl status; idf-etl sql \"SELECT * FROM open_issues\"; README: Running it every night."
} > "${TMPDIR:-/tmp}/idf-etl-alert.$$" 2>&1
report="${TMPDIR:-/tmp}/idf-etl-alert.$$"
sent=no
if [ -n "${ALERT_EMAIL:-}" ]; then
    mail -s "$subject" "$ALERT_EMAIL" < "$report" && sent=yes
fi
if [ -n "${ALERT_WEBHOOK:-}" ]; then
    curl -fsS --max-time 20 -H "Content-Type: text/plain; charset=utf-8" \
        --data-binary "@$report" "$ALERT_WEBHOOK" > /dev/null && sent=yes
fi
[ "$sent" = yes ] || cat "$report"
rm -f "$report"
