// posix_spawn attributes for children that must start in a clean signal state. Foundation's Process
// (and a plain posix_spawn) passes on the caller's signal mask and ignored signals, so a child of a
// thread that blocks SIGTERM could not be stopped. Used by the lab's subprocesses and the QEMU launcher.

import Glibc

/// Attributes with nothing blocked and every signal at its default action
/// (POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF). The caller destroys them with posix_spawnattr_destroy.
public func cleanSignalSpawnAttributes() -> posix_spawnattr_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    var none = sigset_t(), all = sigset_t()
    sigemptyset(&none); sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    return attributes
}
