// Room: QEMU — layer 4. machine.yml (Oathgate runner schema + initrd, cmdline, networks, accel)
// → a QEMU command line; launching QEMU and its console; the test-guest recipe. Knows nothing of the Engine.
//
// MachineConfig (+YAML)   the machine.yml model and its located parser (docs/machine.md)
// QEMUCommandLine         MachineConfig → argv, a pure function
// QEMULauncher            starts qemu-system-x86_64 (Foundation Process), console to terminal, stream or log; stops it
// ConsoleTranscript       the serial console's lines, waitable (for tests and the lab)
// GuestMarker             the SLUICE-* lines the test guest's /init prints (ci/guest/init)
// TestGuest               where ci/build-test-guest.sh put the kernel and initramfs
