#!/bin/sh
# Stand-in for kata-agent as the guest's init in the osbuilder smoke tests (busybox sh): does
# what the agent does first (load the module list in order), reports what the tests assert on
# the serial console, and powers off.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
echo "KATA-TEST: userspace"
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
while read -r ko params; do
  [ -n "$ko" ] || continue
  # shellcheck disable=SC2086  # params are separate words by design
  insmod "$ko" $params || echo "KATA-TEST: insmod-failed $ko"
done </lib/modules/kata-modules.list
echo "KATA-TEST: uname $(uname -r)"
echo "KATA-TEST: modules $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
echo "KATA-TEST: root $(grep ' / ' /proc/mounts | tail -n 1)"
# The kernel names a root it mounted itself /dev/root: report which block device that is.
rootdev="$(awk '$5 == "/" { dev = $3 } END { print dev }' /proc/self/mountinfo)"
for b in pmem0p1 vda1; do
  dev=$(cat "/sys/class/block/$b/dev" 2>/dev/null)
  [ -n "$dev" ] && [ "$dev" = "${rootdev%% *}" ] && rootdev="$rootdev $b"
done
echo "KATA-TEST: rootdev $rootdev"
echo "KATA-TEST: cmdline $(cat /proc/cmdline)"
echo "KATA-TEST: done"
poweroff -f
