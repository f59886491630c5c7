# shellcheck shell=sh
# The test rig's request, shared by the boot hooks (boot.d/50-*): sourced, not
# run. The rig speaks through QEMU's fw_cfg, a channel outside the disks under
# test: opt/brownout/update (what to install: the client's URL), and for fault
# injection opt/brownout/agent (the agent binary), opt/brownout/cut (a cut
# spec) or opt/brownout/record (record every cut point instead),
# opt/brownout/confirm (the version whose first confirmation runs under the
# agent, instead of the update), opt/brownout/rerun (hold before the update:
# see rig_hold), and opt/brownout/phase-rules (the agent's --phase-rules: phases by target, for
# clients that print no phase markers); opt/brownout/client replaces the
# client with a test fixture; opt/brownout/lazy-writeback keeps what the
# update writes in the page cache until a program syncs.

# rig_agent PHASE COMMAND [ARGS...] — run COMMAND under the fault agent as the
# rig asks: record every cut point (printed gzip'd, in base64, as
# BROWNOUT-POINTS-GZ lines), or cut at the spec's point. COMMAND has
# BROWNOUT_TRACED=1 in its environment: a client that keeps a daemon running
# between its commands must not under the agent, which waits for every
# process a command leaves. PHASE names every point of a command that is one phase as
# a whole (the method's phase rules then do not apply); with "", the rules and
# the command's markers name them. Returns the agent's status (0 after a record).
rig_agent() {
	rig=/sys/firmware/qemu_fw_cfg/by_name/opt/brownout
	phase=$1
	shift
	# gzip'd by the rig: the kernel serves a fw_cfg file a page a read, each read
	# stepping from the file's start a byte at a time, so reading costs the
	# square of the size (tenths of a second for the bare agent under TCG).
	zcat "$rig/agent/raw" > /run/brownout-fi && chmod 0755 /run/brownout-fi
	rules=
	[ -z "$phase" ] && [ -r "$rig/phase-rules/raw" ] && rules=$rig/phase-rules/raw
	if [ -r "$rig/record/raw" ]; then
		BROWNOUT_TRACED=1 /run/brownout-fi ${rules:+--phase-rules "$rules"} ${phase:+--phase "$phase"} \
			--record /run/points.jsonl -- "$@"
		status=$?
		# Compressed: the emulated serial port carries some hundred lines a second,
		# and a record can hold tens of thousands of points.
		gzip -c /run/points.jsonl | base64 | sed 's/^/BROWNOUT-POINTS-GZ /'
		echo "BROWNOUT record-done status=$status points=$(wc -l < /run/points.jsonl)"
		return 0
	fi
	# The cut is read from its file, not passed in, so a hold (a snapshot taken
	# where a phase starts, see faultinject/hold.h) can learn its cut after a restore.
	BROWNOUT_TRACED=1 /run/brownout-fi ${rules:+--phase-rules "$rules"} ${phase:+--phase "$phase"} \
		--cut-file "$rig/cut/raw" -- "$@"
	status=$?
	echo "BROWNOUT agent-done status=$status"
	return "$status"
}

# rig_confirm CLIENT — run "CLIENT confirm": plainly, or under the agent (its
# points in phase confirm) when opt/brownout/confirm names the version booted.
# The rig asks for the new version's first confirmation, never the old one's
# that comes before the update.
rig_confirm() {
	rig=/sys/firmware/qemu_fw_cfg/by_name/opt/brownout
	if [ -r "$rig/confirm/raw" ] && [ -r "$rig/agent/raw" ]; then
		read -r rig_want < "$rig/confirm/raw"
		read -r rig_version < /etc/brownout/version
		if [ "$rig_want" = "$rig_version" ]; then
			rig_agent confirm "$1" confirm
			return
		fi
	fi
	"$1" confirm
}

# rig_hold — when the rig asks (opt/brownout/rerun), hold before the update:
# say so and wait for the line "go" on the console. The boot after a cut
# settles here; the rig judges the disk with the machine stopped, then lets
# it go on, so the update runs again without a cold boot of the version the
# cut left.
rig_hold() {
	rig=/sys/firmware/qemu_fw_cfg/by_name/opt/brownout
	[ -r "$rig/rerun/raw" ] || return 0
	# Unechoed: the word must not land inside a line another program prints.
	stty -echo < /dev/console
	echo "BROWNOUT hold what=rerun"
	until read -r rig_go < /dev/console && [ "$rig_go" = go ]; do
		sleep 0.05
	done
}

# rig_network — the drivers nothing but an update needs (the network, FAT)
# and QEMU's user network, restricted: the update server at 10.0.2.100 is the
# only peer there is, on the local subnet, so no route is needed. Every hook
# that updates calls it (rig_install does), after its hold.
rig_network() {
	read -r modules < /etc/brownout/modules
	modprobe -a $modules || echo "BROWNOUT init-warning reason=modprobe-failed"
	ip -batch - <<EOF || echo "BROWNOUT init-warning reason=network"
link set lo up
addr add 10.0.2.15/24 dev eth0
link set eth0 up
EOF
}

# rig_install CLIENT — run "CLIENT install URL" as the rig asks, if it asks.
rig_install() {
	rig=/sys/firmware/qemu_fw_cfg/by_name/opt/brownout
	[ -r "$rig/update/raw" ] || return 0
	rig_hold
	rig_network
	# fw_cfg files end without a newline: read fails at their end, yet sets url.
	read -r url < "$rig/update/raw"
	client=$1
	if [ -r "$rig/lazy-writeback/raw" ]; then
		# As LazyFS does for files: no periodic writeback, and dirty pages may
		# fill memory, so a power cut loses every write no program synced.
		echo 0 > /proc/sys/vm/dirty_writeback_centisecs
		echo 8640000 > /proc/sys/vm/dirty_expire_centisecs
		echo 100 > /proc/sys/vm/dirty_ratio
		echo 99 > /proc/sys/vm/dirty_background_ratio
		echo "BROWNOUT lazy-writeback"
	fi
	if [ -r "$rig/client/raw" ]; then
		# A test fixture standing in for the real client (tests/fixtures).
		zcat "$rig/client/raw" > /run/brownout-client && chmod 0755 /run/brownout-client
		client=/run/brownout-client
	fi
	[ -r "$rig/agent/raw" ] || { "$client" install "$url"; return; }
	# Under the agent the client must not reboot by itself: if the cut never
	# fires, the agent has to live long enough to say so. The client has synced.
	rig_agent "" "$client" install --no-reboot "$url" || return 0
	[ -r "$rig/record/raw" ] || echo b > /proc/sysrq-trigger
}
