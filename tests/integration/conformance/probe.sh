#!/bin/sh
# The conformance probe: runs as a container's process (under runc and under kata-runtime) and
# prints what the process sees of itself, one "== section" at a time, for compare.py.
# /probe.conf (written by bundle.py from the spec) lists "masked PATH", "readonly PATH" and
# "sysctl KEY" lines.
section() { echo "== $1"; }

section status
grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):' \
  /proc/self/status
section id
id
section limits
cat /proc/self/limits
section umask
umask
section hostname
hostname
section cwd
pwd
section env
env | sort
section oom_score_adj
cat /proc/self/oom_score_adj
section machine
uname -m
section mounts
# mount point, fs type, per-mount options, super options: /dev, /proc and /sys and below.
awk '{ i = 7; while ($i != "-") i++; print $5, $(i + 1), $6, $(i + 3) }' /proc/self/mountinfo |
  grep -E '^/(dev|proc|sys)(/| )'
section devices
for f in /dev/* /dev/pts/ptmx; do stat -c '%n %F %t:%T %a %u:%g' "$f"; done
section device-use
echo x > /dev/null && echo null writable
echo "zero $(head -c 5 /dev/zero | wc -c)"
echo "urandom $(head -c 5 /dev/urandom | wc -c)"
echo "random $(head -c 5 /dev/random | wc -c)"
echo x 2>/dev/null > /dev/full || echo full refuses writes
if (exec 3<>/dev/ptmx) 2>/dev/null; then echo ptmx opens; else echo ptmx refused; fi
section masked
while read -r kind path; do
  [ "$kind" = masked ] || continue
  if [ ! -e "$path" ]; then
    state=absent
  elif [ -d "$path" ]; then
    if [ -z "$(ls -A "$path" 2>/dev/null)" ]; then state=hidden; else state=visible; fi
  elif [ "$(head -c 64 "$path" 2>/dev/null | wc -c)" = 0 ]; then
    state=hidden
  else
    state=visible
  fi
  echo "$path $state"
done < /probe.conf
section readonly
while read -r kind path; do
  [ "$kind" = readonly ] || continue
  if [ ! -e "$path" ]; then echo "$path absent"; continue; fi
  opts=$(awk -v p="$path" '$5 == p { split($6, o, ","); print o[1] }' /proc/self/mountinfo | tail -n 1)
  echo "$path ${opts:-not-a-mount}"
done < /probe.conf
section sysctl
while read -r kind key; do
  [ "$kind" = sysctl ] || continue
  echo "$key=$(cat "/proc/sys/$(echo "$key" | tr . /)" 2>&1)"
done < /probe.conf
section cgroup-devices
if [ -r /sys/fs/cgroup/devices/devices.list ]; then
  sort /sys/fs/cgroup/devices/devices.list
else
  echo "no devices cgroup mounted"
fi
section end
echo "probe: stderr is relayed" >&2
exit 3
