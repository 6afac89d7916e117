// Room: QEMU — layer 4. machine.yml (Oathgate runner schema + initrd, cmdline, networks, accel)
// → a QEMU command line; launching QEMU and its console; the test-guest recipe. Knows nothing of the Engine.
