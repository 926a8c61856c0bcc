#!/bin/sh
# linux_collect.sh: Handover's read-only collection of one Linux host's accounts, rights and keys.
#
#   sh linux_collect.sh OUTDIR   copy the files into OUTDIR laid out like the host's root, plus the
#                                command outputs under OUTDIR/handover/ (for `handover discovery import`
#                                --kind linux, or `handover-agent discover --root OUTDIR`)
#   sh linux_collect.sh          the same files as one stream on stdout (what the Linux connector reads
#                                over SSH, in one round trip)
#
# It changes nothing on the host: it reads files and runs sshd -T, lastlog, last, lastb and faillock.
# Run it as root (or it runs them with `sudo -n` when that needs no password) so that shadow, gshadow and
# sshd -T are readable; what it cannot read is left out and the import says so.
# Stream format, per file:  "==> HANDOVER FILE <enc> <path>", the content in base64 (enc b64) or hex
# (enc hex), then "==> HANDOVER END <sha256 hex of the content, or ->". The stream ends with
# "==> HANDOVER DONE". Paths are relative to / (etc/passwd); command outputs are handover/<name>.txt.
set -u
umask 077
LC_ALL=C
export LC_ALL
PATH=/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}
OUT=${1:-}
ROOT=${HANDOVER_ROOT:-}
SUDO=
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO="sudo -n"
fi
SEEN=" "

_enc() {
    if command -v base64 >/dev/null 2>&1; then base64; else od -An -tx1 -v | tr -d ' \n'; echo; fi
}
_kind() {
    if command -v base64 >/dev/null 2>&1; then echo b64; else echo hex; fi
}
_sum() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else echo -; fi
}

# grab PATH: one file (absolute path on the host), once
grab() {
    case "$SEEN" in *" $1 "*) return 0 ;; esac
    SEEN="$SEEN$1 "
    src=$ROOT$1
    [ -f "$src" ] || return 0
    rel=${1#/}
    if [ -n "$OUT" ]; then
        mkdir -p "$OUT/$(dirname "$rel")"
        if [ -r "$src" ]; then cat "$src"; else $SUDO cat "$src"; fi >"$OUT/$rel" 2>/dev/null
    else
        if [ -r "$src" ]; then rd=cat; else rd="$SUDO cat"; fi
        $rd "$src" >/dev/null 2>&1 || return 0
        echo "==> HANDOVER FILE $(_kind) $rel"
        $rd "$src" | _enc
        echo "==> HANDOVER END $($rd "$src" | _sum)"
    fi
}

# command NAME CMD...: a command's output as handover/NAME.txt
command_out() {
    name=$1
    shift
    out=$("$@" 2>/dev/null; echo x)
    out=${out%x}
    if [ -n "$OUT" ]; then
        mkdir -p "$OUT/handover"
        printf %s "$out" >"$OUT/handover/$name.txt"
    else
        echo "==> HANDOVER FILE $(_kind) handover/$name.txt"
        printf %s "$out" | _enc
        echo "==> HANDOVER END $(printf %s "$out" | _sum)"
    fi
}

for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/sudoers /etc/ssh/sshd_config; do grab "$f"; done
for f in "$ROOT"/etc/sudoers.d/* "$ROOT"/etc/ssh/sshd_config.d/*; do [ -f "$f" ] && grab "${f#"$ROOT"}"; done
# Files and folders that sudoers includes (#include, @include, #includedir, @includedir).
includes=$(for s in "$ROOT"/etc/sudoers "$ROOT"/etc/sudoers.d/*; do
    [ -f "$s" ] || continue
    { if [ -r "$s" ]; then cat "$s"; else $SUDO cat "$s"; fi; } 2>/dev/null |
        sed -n 's/^[#@]include\(dir\)\{0,1\}[ 	][ 	]*//p' | while read -r inc; do
            case "$inc" in /*) ;; *) inc=/etc/$inc ;; esac
            if [ -d "$ROOT$inc" ]; then
                for f in "$ROOT$inc"/*; do [ -f "$f" ] && echo "${f#"$ROOT"}"; done
            else
                echo "$inc"
            fi
        done
done)
for f in $includes; do grab "$f"; done

sshd_t=""
if [ -z "$ROOT" ]; then
    if [ "$(id -u)" = 0 ]; then command_out sshd-T sshd -T; else command_out sshd-T $SUDO sshd -T; fi
    sshd_t=$out
fi
# Every AuthorizedKeysFile of the effective configuration (%h home, %u user, %U uid, %% a percent sign),
# for every account in passwd, plus the usual places.
akf=$(printf %s "$sshd_t" | sed -n 's/^authorizedkeysfile //p' | head -n 1)
if [ -z "$akf" ]; then
    akf=$(cat "$ROOT"/etc/ssh/sshd_config "$ROOT"/etc/ssh/sshd_config.d/* 2>/dev/null |
        sed -n 's/^[ 	]*[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Ee][Dd][Kk][Ee][Yy][Ss][Ff][Ii][Ll][Ee][ 	=]*//p' |
        head -n 1)
fi
[ -n "$akf" ] || akf=".ssh/authorized_keys .ssh/authorized_keys2"
while IFS=: read -r user _pw uid _gid _gecos home _shell; do
    [ -n "$user" ] || continue
    for pat in $akf .ssh/authorized_keys .ssh/authorized_keys2; do
        [ "$pat" = none ] && continue
        p=$(printf %s "$pat" | sed -e 's/%%/@HANDOVER_PCT@/g' -e "s|%h|$home|g" -e "s|%u|$user|g" \
            -e "s|%U|$uid|g" -e 's/@HANDOVER_PCT@/%/g')
        case "$p" in /*) ;; *) p=$home/$p ;; esac
        grab "$p"
    done
done <"$ROOT/etc/passwd"
for f in "$ROOT"/root/.ssh/authorized_keys* "$ROOT"/home/*/.ssh/authorized_keys*; do
    [ -f "$f" ] && grab "${f#"$ROOT"}"
done

grab /etc/crontab
for f in "$ROOT"/etc/cron.d/* "$ROOT"/var/spool/cron/crontabs/* "$ROOT"/var/spool/cron/* \
    "$ROOT"/etc/systemd/system/*.service; do
    [ -f "$f" ] && grab "${f#"$ROOT"}"
done

# Older util-linux (CentOS 6) has no --time-format: last -F then; newer distributions replace lastlog by
# lastlog2.
lastlog_any() { lastlog 2>/dev/null || lastlog2 2>/dev/null; }
wtmp_any() { last -w --time-format iso 2>/dev/null || last -F -w 2>/dev/null; }
btmp_any() { $SUDO lastb -w --time-format iso 2>/dev/null || $SUDO lastb -F -w 2>/dev/null; }
if [ -z "$ROOT" ]; then
    command_out lastlog lastlog_any
    command_out wtmp wtmp_any
    command_out btmp btmp_any
    command_out faillock $SUDO faillock
fi
[ -n "$OUT" ] || echo "==> HANDOVER DONE"
exit 0
