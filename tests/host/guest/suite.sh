#!/bin/bash
# The production-host suite, run as root inside the test guest (tests/host/run.sh puts
# it in the share as /host/run.sh): Debian bookworm, systemd 252 as PID 1, pure cgroup
# v2, crun and runc. It installs the agent from /host/root (the host's `cmake
# --install` staging tree), enables the socket unit as an operator would, and checks:
#
#   install     units and config in place, the config valid, the socket unit enabled
#   activation  the first call starts the agent (socket activation); READY and STATUS
#   socket      mode 0660 with the configured group; a user outside it is refused
#   crun/runc   containers with the probed runtime (crun) and, through a drop-in, runc:
#               stats equal to memory.current / cpu.stat, memory.max, oom_killed from
#               memory.events, cgroup placement under /zlayer, exit codes
#   journald    CONTAINER_ID, SERVICE, DEPLOYMENT fields on container events
#   restart     `systemctl restart` with three containers running, one exiting while
#               the agent is down: none killed, right states and outcomes, no log gap
#   watchdog    SIGSTOP the agent: systemd restarts it with Result=watchdog, the
#               containers survive
#
# Output: one "ok"/"FAIL" line per check and "host_vm_suite: N passed, M failed";
# exit 0 when all passed, 1 otherwise. /host/out/journal.txt gets the agent's journal
# on failure (/host/out/journal-live.txt follows it all along, for timeouts).
set -u -o pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
OUT=/host/out
SOCK=/run/zlayer/agentd.sock
UNIT=zlayer-agentd.service
TEST=/run/zlayer-test            # the test's own scratch files
IMAGE=busybox:latest
DEPLOYMENT=hostsuite
mkdir -p "$OUT" "$TEST"

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%6.1f", b - a}'; }
PASS=0 FAIL=0 FAILED=()
say() { echo "[$(elapsed)s] $*"; }
ok() { PASS=$((PASS + 1)); echo "[$(elapsed)s] ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); FAILED+=("$1"); echo "[$(elapsed)s] FAIL - $*"; }
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
# eq DESCRIPTION EXPECTED ACTUAL
eq() { if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: expected '$2', got '$3'"; fi; }
# wait_until SECONDS COMMAND...: polls every 0.5 s.
wait_until() {
  local end=$(($(date +%s) + $1)); shift
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.5; done
}
section() { echo; say "== $*"; }
finish() {
  echo
  say "done"
  if ((FAIL)); then
    printf '  failed: %s\n' "${FAILED[@]}"
    journalctl -u zlayer-agentd -u zlayer-agentd.socket -o short-precise --no-pager > "$OUT/journal.txt" 2>&1
    journalctl -k -o short-precise --no-pager | grep -i -e oom -e 'killed process' >> "$OUT/journal.txt" 2>/dev/null
  fi
  echo "host_vm_suite: $PASS passed, $FAIL failed"
  ((FAIL == 0)); exit $?
}
# abort WHY: a check that everything after it needs has failed.
abort() { bad "$1"; say "aborting: the remaining checks need this"; finish; }

# Every client call is bounded; the agent runs at emulated speed.
zc() { timeout 180 zlayerctl "$@"; }
prop() { systemctl show -P "$1" "$UNIT"; }
main_pid() { prop MainPID; }
starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }  # clock ticks since boot
info() { zc inspect -o json "$1" | jq -r ".[0]$2"; }
phase() { info "$1" .state.phase; }
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
logged() { zc logs "$1" 2>/dev/null | grep -q -- "$2"; }
running() { [ "$(phase "$1")" = CONTAINER_PHASE_RUNNING ]; }
agent_active() { [ "$(prop ActiveState)" = active ] && [ "$(main_pid)" != 0 ]; }

say "guest: $(uname -r), $(systemctl --version | head -1), cgroup fs $(stat -fc %T /sys/fs/cgroup)," \
    "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
journalctl -f -n all -u zlayer-agentd -u zlayer-agentd.socket -o short-precise > "$OUT/journal-live.txt" 2>&1 &

# --------------------------------------------------------------------------------------
section "install: the host's cmake --install tree, laid down as a package would"
cp -a /host/root/. / || abort "copy the installed tree into /"
missing=$(ldd /usr/bin/zlayer-agentd /usr/bin/zlayerctl | grep 'not found')
[ -z "$missing" ] || abort "run-time libraries missing in the guest: $missing"
check "zlayer-monitor installed in /usr/libexec/zlayer" test -x /usr/libexec/zlayer/zlayer-monitor
check "default config /etc/zlayer/agentd.yaml is valid (zlayer-agentd --check-config)" \
  sh -c 'zlayer-agentd --check-config > /tmp/check-config.txt 2>&1'
groupadd --system zlayer && useradd -M -G zlayer zop && useradd -M zoutsider ||
  abort "create the zlayer group and test users"
# The operator's drop-in: who may use the API.
mkdir -p /etc/systemd/system/zlayer-agentd.socket.d /etc/systemd/system/zlayer-agentd.service.d
printf '[Socket]\nSocketGroup=zlayer\n' > /etc/systemd/system/zlayer-agentd.socket.d/group.conf
# The test's drop-in: an ExecStopPost hook that records systemd's result of each stop
# and, when asked, makes a container exit while no agent runs (restart check).
mkdir -p /usr/local/lib/zlayer-test
cat > /usr/local/lib/zlayer-test/stop-hook <<'EOF'
#!/bin/sh
t=/run/zlayer-test
echo "start $(date +%s.%N) SERVICE_RESULT=$SERVICE_RESULT EXIT_CODE=$EXIT_CODE EXIT_STATUS=$EXIT_STATUS" >> $t/stops.log
if [ -s $t/exit-on-stop ]; then
  read pid exitfile < $t/exit-on-stop; rm -f $t/exit-on-stop
  kill -TERM "$pid"
  i=0; while [ ! -e "$exitfile" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  [ -e "$exitfile" ] && echo "exited-while-down $pid" >> $t/stops.log
  sleep 2   # down a little longer: the other containers keep logging meanwhile
fi
echo "end $(date +%s.%N)" >> $t/stops.log
EOF
chmod 755 /usr/local/lib/zlayer-test/stop-hook
printf '[Service]\nExecStopPost=/usr/local/lib/zlayer-test/stop-hook\n' \
  > /etc/systemd/system/zlayer-agentd.service.d/zz-test-hook.conf
systemctl daemon-reload
check "systemd-analyze verify accepts the installed units" \
  systemd-analyze verify /usr/lib/systemd/system/zlayer-agentd.socket /usr/lib/systemd/system/zlayer-agentd.service
systemctl enable --now zlayer-agentd.socket > /tmp/enable.txt 2>&1 || { cat /tmp/enable.txt; abort "systemctl enable --now zlayer-agentd.socket"; }
eq "socket unit active" active "$(systemctl is-active zlayer-agentd.socket)"
eq "service enabled with the socket (Also=)" enabled "$(systemctl is-enabled $UNIT)"
eq "the agent is not started before the first call" inactive "$(systemctl is-active $UNIT)"

# --------------------------------------------------------------------------------------
section "activation: the first call starts the agent"
t=$(date +%s.%N)
out=$(runuser -u zop -- timeout 180 zlayerctl ps -a 2>&1) || { echo "$out"; abort "first call (as zop, in group zlayer) through the socket unit"; }
ok "first call served, by a member of group zlayer ($(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s including the agent's start)"
eq "agent active: READY=1 received (Type=notify)" active/running "$(prop ActiveState)/$(prop SubState)"
status=$(prop StatusText)
check "STATUS= names backend, runtime and containers: '$status'" \
  grep -qE '^ready: backend=oci runtime=.*crun.* containers=0' <<< "$status"
eq "triggered by the socket" zlayer-agentd.socket "$(systemctl show -P TriggeredBy $UNIT)"
check "the agent logged that it is ready" sh -c "journalctl -u zlayer-agentd -o cat | grep -q ' ready'"
[ "$(prop WatchdogUSec)" != 0 ] && ok "watchdog armed (WatchdogUSec=$(prop WatchdogUSec))" || bad "WatchdogUSec is 0"

# --------------------------------------------------------------------------------------
section "socket permissions"
eq "socket mode, owner and group" "660 root zlayer" "$(stat -c '%a %U %G' $SOCK)"
if out=$(runuser -u zoutsider -- timeout 60 zlayerctl ps -a 2>&1); then
  bad "a user outside group zlayer was served: $out"
elif grep -qi 'permission denied' <<< "$out"; then
  ok "a user outside group zlayer is refused: $(tail -1 <<< "$out" | cut -c1-160)"
else
  bad "outsider failed, but not for permission: $out"
fi

# --------------------------------------------------------------------------------------
section "test image"
zc import /host/busybox.tar $IMAGE > /tmp/import.txt 2>&1 || { cat /tmp/import.txt; abort "import the busybox OCI image"; }
ok "$(cat /tmp/import.txt)"

# --------------------------------------------------------------------------------------
# Containers with one runtime: stats against the cgroup files, limits, placement, OOM,
# exit codes. $1: crun or runc (the runtime the agent runs now).
runtime_checks() {
  local rt=$1 st=stats-$1 oom=oom-$1 oomc=oomchild-$1 job=job-$1
  section "containers with $rt"
  zc run -d -q --pull never --deployment $DEPLOYMENT --name $st -m 64Mi $IMAGE sh -c \
    'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; f=/dev/shm/fill; [ -d /dev/shm ] || f=/tmp/fill
     dd if=/dev/zero of=$f bs=1M count=24 2>/dev/null; echo ready; exec sleep 3600' > /dev/null ||
    { bad "$rt: start the stats container"; return; }
  wait_until 180 logged $st ready || { bad "$rt: stats container never became ready"; return; }
  local name=$st-rep-1 pid mpid cg
  pid=$(info $st .pid); mpid=$(info $st .annotations.monitor_pid)
  check "$rt: the container runs under $rt (its state is in $rt's root /run/zlayer/runtime)" \
    sh -c "$rt --root /run/zlayer/runtime list | grep -qw $name"
  check "$rt: agent reports runtime $rt" grep -q "$rt" <<< "$(info $st .annotations.runtime)"
  cg=$(cgroup_of "$pid")
  eq "$rt: container cgroup under the configured parent /zlayer" "/zlayer/$name" "$cg"
  eq "$rt: monitor (pid $mpid) in the monitors' cgroup under the parent" /zlayer/monitors \
    "$(cgroup_of "$mpid")"
  # The unit protects the agent (OOMScoreAdjust=-500); containers must not inherit it.
  eq "$rt: agent's oom_score_adj is the unit's" -500 "$(cat /proc/$(main_pid)/oom_score_adj)"
  eq "$rt: container's oom_score_adj is 0, not the agent's -500" 0 "$(cat /proc/$pid/oom_score_adj)"
  eq "$rt: an exec'd process's oom_score_adj is 0 too" 0 "$(zc exec $st cat /proc/self/oom_score_adj)"
  eq "$rt: the monitor keeps the agent's -500" -500 "$(cat /proc/$mpid/oom_score_adj)"
  local agentcg; agentcg=$(cgroup_of "$(main_pid)")
  eq "$rt: agent in its service cgroup" "/system.slice/zlayer-agentd.service" "$agentcg"
  local inside; inside=$(find "/sys/fs/cgroup$agentcg" -name cgroup.procs -exec cat {} + | tr '\n' ' ')
  if grep -qwE "$pid|$mpid" <<< "$inside"; then
    bad "$rt: container $pid or monitor $mpid in the agent's service cgroup (pids there: $inside)"
  else
    ok "$rt: neither container nor monitor in the agent's service cgroup (pids there: $inside)"
  fi

  # Stats: read the cgroup files right before and after the agent does; the agent's
  # numbers must lie between (the container is idle, so both reads normally agree).
  local d=/sys/fs/cgroup$cg m1 m2 c1 c2 u1 u2 json
  m1=$(cat $d/memory.current); c1=$(awk '$1 == "usage_usec" {print $2}' $d/cpu.stat)
  u1=$(awk '$1 == "user_usec" {print $2}' $d/cpu.stat)
  json=$(zc stats --no-stream -o json $st)
  m2=$(cat $d/memory.current); c2=$(awk '$1 == "usage_usec" {print $2}' $d/cpu.stat)
  u2=$(awk '$1 == "user_usec" {print $2}' $d/cpu.stat)
  local mem cpu user lim mode pids
  mem=$(jq -r '.[0].memory_bytes' <<< "$json"); cpu=$(jq -r '.[0].cpu_usage_usec' <<< "$json")
  user=$(jq -r '.[0].cpu_user_usec' <<< "$json"); lim=$(jq -r '.[0].memory_limit' <<< "$json")
  mode=$(jq -r '.[0].cgroup_mode' <<< "$json"); pids=$(jq -r '.[0].pids_current' <<< "$json")
  eq "$rt: stats come from cgroup v2" v2 "$mode"
  local lo=$((m1 < m2 ? m1 : m2)) hi=$((m1 > m2 ? m1 : m2)) slack=$((128 * 1024))
  if [ "$mem" -ge $((lo - slack)) ] && [ "$mem" -le $((hi + slack)) ]; then
    ok "$rt: memory_bytes $mem matches memory.current ($m1 before, $m2 after)"
  else
    bad "$rt: memory_bytes $mem, memory.current $m1 before and $m2 after"
  fi
  check "$rt: memory_bytes counts the 24 MiB the container wrote ($mem)" test "$mem" -ge $((24 * 1024 * 1024))
  if [ "$cpu" -ge "$c1" ] && [ "$cpu" -le "$c2" ] && [ "$user" -ge "$u1" ] && [ "$user" -le "$u2" ]; then
    ok "$rt: cpu_usage_usec $cpu and cpu_user_usec $user match cpu.stat ($c1..$c2, $u1..$u2)"
  else
    bad "$rt: cpu_usage_usec $cpu (cpu.stat $c1..$c2), cpu_user_usec $user ($u1..$u2)"
  fi
  check "$rt: the container used CPU ($cpu µs)" test "$cpu" -gt 0
  eq "$rt: memory_limit is memory.max" "$(cat $d/memory.max)" "$lim"
  eq "$rt: memory_limit is the 64Mi asked for" 67108864 "$lim"
  eq "$rt: pids_current is pids.current" "$(cat $d/pids.current)" "$pids"

  # OOM of a child: the container lives on; the agent's count is memory.events'.
  zc run -d -q --pull never --deployment $DEPLOYMENT --name $oomc -m 32Mi $IMAGE sh -c \
    'sh -c "x=a; while :; do x=\$x\$x; done"; echo child-ended $?; exec sleep 3600' > /dev/null ||
    bad "$rt: start the child-OOM container"
  if wait_until 180 logged $oomc child-ended; then
    local ev kills
    ev=$(awk '$1 == "oom_kill" {print $2}' "/sys/fs/cgroup$(cgroup_of "$(info $oomc .pid)")/memory.events")
    kills=$(zc stats --no-stream -o json $oomc | jq -r '.[0].memory_oom_kill')
    if [ "${ev:-0}" -ge 1 ] && [ "$kills" = "$ev" ]; then
      ok "$rt: stats memory_oom_kill $kills = memory.events oom_kill $ev (a child was OOM-killed)"
    else
      bad "$rt: stats memory_oom_kill '$kills', memory.events oom_kill '$ev'"
    fi
    eq "$rt: container still running after its child's OOM kill" CONTAINER_PHASE_RUNNING "$(phase $oomc)"
  else
    bad "$rt: the child-OOM container's child never ended"
  fi
  # OOM of the init: the outcome is oom_killed.
  local w
  w=$(zc run -q --pull never --deployment $DEPLOYMENT --name $oom -m 32Mi $IMAGE sh -c \
      'x=a; while :; do x=$x$x; done' > /dev/null 2>&1; zc wait $oom)
  eq "$rt: init over its memory limit: wait reports" "137 oom_killed SIGKILL" "$w"
  eq "$rt: inspect outcome reason" WAIT_REASON_OOM_KILLED "$(info $oom .outcome.reason)"
  check "$rt: the kernel's OOM kill was in /zlayer/$oom-rep-1" \
    sh -c "journalctl -k -o cat | grep -q 'oom_memcg=/zlayer/$oom-rep-1'"

  # Run to completion: exit code and output.
  local o rc=0
  o=$(zc run -q --pull never --deployment $DEPLOYMENT --name $job $IMAGE sh -c 'echo hello from '$rt'; exit 7' 2>&1) || rc=$?
  eq "$rt: foreground run exits with the container's code" 7 "$rc"
  check "$rt: its output came back: $o" grep -q "hello from $rt" <<< "$o"
  eq "$rt: wait reports" "7 exited -" "$(zc wait $job)"

  zc rm -f $st $oomc $oom $job > /dev/null || bad "$rt: remove the containers"
  check "$rt: removed containers leave no cgroup under /zlayer" \
    sh -c "! ls -d /sys/fs/cgroup/zlayer/$st-rep-1 /sys/fs/cgroup/zlayer/$job-rep-1 2>/dev/null"
}
runtime_checks crun

# --------------------------------------------------------------------------------------
# Networking on the default bridge (CNI from containernetworking-plugins): two
# containers of one deployment reach each other by service name, and a published port
# answers on the guest's loopback.
http_get() { zc exec "$1" -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $2"; }
zc run -d -q --pull never --deployment $DEPLOYMENT --name netweb -p 18080:80 $IMAGE sh -c \
  'mkdir -p /www && echo served-in-guest > /www/index.html && exec httpd -f -p 80 -h /www' \
  > /dev/null || bad "network: start the web container"
zc run -d -q --pull never --deployment $DEPLOYMENT --name netclient $IMAGE sleep 3600 \
  > /dev/null || bad "network: start the client container"
webip=$(info netweb .ipv4)
check "network: the web container has an address on the default bridge ($webip)" \
  sh -c "echo '$webip' | grep -q '^10\.89\.0\.'"
served_by() { http_get netclient "$1" 2>/dev/null | grep -q served-in-guest; }
check "network: the client reaches the web container by IP" wait_until 30 served_by "$webip 80"
check "network: the client reaches it by service name (/etc/hosts)" served_by "netweb 80"
host_served() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 busybox nc -w 3 127.0.0.1 18080 2>/dev/null | grep -q served-in-guest; }
check "network: the published port answers on the guest's 127.0.0.1:18080" wait_until 30 host_served
check "network: ps shows the published port" sh -c "zlayerctl ps | grep -q '0.0.0.0:18080->80/tcp'"
zc rm -f netweb netclient > /dev/null || bad "network: remove the containers"
check "network: removal leaves no veth" sh -c "! ip -o link show type veth | grep -q ."
check "network: removal leaves no netns file" sh -c "! ls /run/zlayer/netns/* 2>/dev/null | grep -q ."

# --------------------------------------------------------------------------------------
section "journald: structured fields on container events"
jcount() { journalctl -u zlayer-agentd -o json --no-pager | jq -s "[.[] | select($1)] | length"; }
check "agent lines reach the journal natively (_TRANSPORT=journal, SYSLOG_IDENTIFIER=zlayer-agentd)" \
  test "$(jcount '._TRANSPORT == "journal" and .SYSLOG_IDENTIFIER == "zlayer-agentd"')" -gt 0
n=$(jcount '.CONTAINER_ID == "stats-crun-rep-1" and .SERVICE == "stats-crun" and .DEPLOYMENT == "'$DEPLOYMENT'" and (.MESSAGE | test("created"))')
check "'container created' has CONTAINER_ID, SERVICE and DEPLOYMENT ($n)" test "$n" -ge 1
n=$(jcount '.CONTAINER_ID == "job-crun-rep-1" and .SERVICE == "job-crun" and (.MESSAGE | test("exited")) and .PRIORITY == "6"')
check "'container exited' has CONTAINER_ID, SERVICE and PRIORITY=6 ($n)" test "$n" -ge 1
n=$(jcount '.CONTAINER_ID == "stats-crun-rep-1" and (.MESSAGE | test("started"))')
check "'container started' has CONTAINER_ID ($n)" test "$n" -ge 1

# --------------------------------------------------------------------------------------
section "restart: systemctl restart with three containers running, one exiting while down"
ticker='trap "echo bye; exit 3" TERM; i=0; while :; do echo tick $i; i=$((i + 1)); sleep 0.25; done'
for c in r1 r2 r3; do
  zc run -d -q --pull never --deployment $DEPLOYMENT --name $c $IMAGE sh -c "$ticker" > /dev/null ||
    bad "start $c"
done
for c in r1 r2 r3; do wait_until 120 logged $c 'tick 3' || bad "$c is not ticking"; done
declare -A PID MPID START
for c in r1 r2 r3; do
  PID[$c]=$(info $c .pid); MPID[$c]=$(info $c .annotations.monitor_pid); START[$c]=$(starttime "${PID[$c]}")
done
old=$(main_pid)
echo "${PID[r3]} /var/lib/zlayer/containers/r3-rep-1/state/exit.json" > $TEST/exit-on-stop
: > $TEST/stops.log
t=$(date +%s.%N)
systemctl restart $UNIT || bad "systemctl restart $UNIT"
wait_until 180 agent_active || bad "agent active again after the restart"
say "restart took $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s (the stop hook keeps it down 2 s on purpose)"
check "a new agent process ($old -> $(main_pid))" test "$(main_pid)" != "$old"
check "r3 exited while no agent ran (stop hook: $(tr '\n' ' ' < $TEST/stops.log))" grep -q "exited-while-down ${PID[r3]}" $TEST/stops.log
for c in r1 r2; do
  if kill -0 "${PID[$c]}" 2>/dev/null && [ "$(starttime "${PID[$c]}")" = "${START[$c]}" ] &&
     kill -0 "${MPID[$c]}" 2>/dev/null; then
    ok "$c not killed: init ${PID[$c]} and monitor ${MPID[$c]} are the same processes"
  else
    bad "$c: init ${PID[$c]} or monitor ${MPID[$c]} is gone"
  fi
  eq "$c: the restarted agent reports it running" CONTAINER_PHASE_RUNNING "$(phase $c)"
  eq "$c: same init pid" "${PID[$c]}" "$(info $c .pid)"
done
eq "r3: the restarted agent reports it exited" CONTAINER_PHASE_EXITED "$(phase r3)"
eq "r3: its outcome, from the exit record" "3 exited -" "$(zc wait r3)"
check "STATUS= after recovery: $(prop StatusText)" grep -q 'running=2 exited=1' <<< "$(prop StatusText)"
check "the agent logged recovering r1" sh -c "journalctl -u zlayer-agentd -o cat | grep -q 'recovered container container_id=r1-rep-1'"

# no_gap NAME [MIN_LAST]: the container's log is tick 0..N without a gap (N >= MIN_LAST),
# through the API and in the log file. The file is read after the API, and a running
# container keeps ticking in between: the file must hold at least what the API returned.
no_gap() {
  local c=$1 min=${2:-0} api file
  api=$(zc logs $c | awk '/^tick / {if ($2 != n) {print "gap: expected", n, "got", $2; exit 1} n = $2 + 1}
                          END {print n - 1}') || { bad "$c: API log has a gap: $api"; return; }
  file=$(cat /var/lib/zlayer/containers/$c-rep-1/logs/container.log* 2>/dev/null | sort |
         awk '$4 == "tick" {if ($5 != n) {print "gap: expected", n, "got", $5; exit 1} n = $5 + 1}
              END {print n - 1}') || { bad "$c: log file has a gap: $file"; return; }
  if [ "$api" -ge "$min" ] && [ "$file" -ge "$api" ]; then
    ok "$c: logs without a gap: tick 0..$api through the API, 0..$file in the file"
  else
    bad "$c: API log ends at tick $api, the file at $file; expected at least tick $min"
  fi
}
# Lines written while the agent was down (between the stop hook's start and end).
down_from=$(awk '$1 == "start" {print $2; exit}' $TEST/stops.log)
down_to=$(awk '$1 == "end" {print $2; exit}' $TEST/stops.log)
ts() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%NZ; }
if [ -n "$down_from" ] && [ -n "$down_to" ]; then
  a=$(ts "$down_from") b=$(ts "$down_to")
  for c in r1 r2; do
    n=$(awk -v a="$a" -v b="$b" '$1 >= a && $1 <= b && $4 == "tick"' /var/lib/zlayer/containers/$c-rep-1/logs/container.log | wc -l)
    check "$c: $n lines logged while no agent ran" test "$n" -ge 2
  done
else
  bad "the stop hook left no times in $TEST/stops.log"
fi
# last_tick NAME: the last tick the agent returns; ticked_past NAME N: it is past N.
last_tick() { zc logs "$1" | awk '/^tick/ {n = $2} END {print n + 0}'; }
ticked_past() { [ "$(last_tick "$1")" -gt "$2" ]; }
last_r1=$(last_tick r1) last_r2=$(last_tick r2)
wait_until 60 ticked_past r1 "$last_r1" || bad "r1 stopped ticking after the restart"
wait_until 60 ticked_past r2 "$last_r2" || bad "r2 stopped ticking after the restart"
no_gap r1 $((last_r1 + 1)); no_gap r2 $((last_r2 + 1)); no_gap r3
eq "r3's log ends with its goodbye" bye "$(zc logs r3 | tail -1)"

# --------------------------------------------------------------------------------------
section "watchdog: a frozen agent is restarted by systemd"
old=$(main_pid); restarts=$(prop NRestarts); : > $TEST/stops.log
t=$(date +%s.%N)
kill -STOP "$old"
say "SIGSTOP sent to the agent ($old); WatchdogSec=$(prop WatchdogUSec)"
new_agent() { local p; p=$(main_pid); [ "$p" != 0 ] && [ "$p" != "$old" ] && [ "$(prop ActiveState)" = active ]; }
if wait_until 240 new_agent; then
  ok "systemd replaced the frozen agent ($old -> $(main_pid)) after $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s"
else
  bad "no new agent within 240 s: $(systemctl show -p ActiveState,SubState,Result,MainPID $UNIT | tr '\n' ' ')"
fi
check "systemd's result for the stop: $(head -1 $TEST/stops.log)" grep -q 'SERVICE_RESULT=watchdog' $TEST/stops.log
check "journal: 'Watchdog timeout' and \"Failed with result 'watchdog'\"" \
  sh -c "journalctl -u zlayer-agentd -o cat --since @${t%.*} | grep -q 'Watchdog timeout' &&
         journalctl -u zlayer-agentd -o cat --since @${t%.*} | grep -q \"Failed with result 'watchdog'\""
eq "NRestarts went up by one" $((restarts + 1)) "$(prop NRestarts)"
for c in r1 r2; do
  if kill -0 "${PID[$c]}" 2>/dev/null && [ "$(starttime "${PID[$c]}")" = "${START[$c]}" ]; then
    ok "$c survived the watchdog restart (init ${PID[$c]})"
  else
    bad "$c's init ${PID[$c]} is gone after the watchdog restart"
  fi
  eq "$c: reported running by the new agent" CONTAINER_PHASE_RUNNING "$(phase $c)"
done
for c in r1 r2; do
  last=$(last_tick $c)
  wait_until 60 ticked_past $c "$last" || bad "$c stopped ticking after the watchdog restart"
  no_gap $c $((last + 1))
done
zc rm -f r1 r2 r3 > /dev/null || bad "remove r1 r2 r3"

# --------------------------------------------------------------------------------------
section "runc: the operator picks the runtime with a drop-in"
printf '[Service]\nExecStart=\nExecStart=/usr/bin/zlayer-agentd --runtime runc\n' \
  > /etc/systemd/system/zlayer-agentd.service.d/runtime.conf
systemctl daemon-reload && systemctl restart $UNIT && wait_until 180 agent_active ||
  abort "restart the agent with --runtime runc"
check "STATUS= names runc: $(prop StatusText)" grep -qE 'runtime=.*runc' <<< "$(prop StatusText)"
runtime_checks runc

finish
