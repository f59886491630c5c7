"""The emulated device as a machine: the QEMU process, its QMP socket, its
serial console and markers, the power switch, snapshots, the network relay
and the boot timeline."""
