// CShims — the one place where the Swift code binds C it cannot call directly: variadic ioctl,
// CMSG macros, and the glibc calls Swift's Glibc module does not import (epoll, accept4,
// recvmmsg/sendmmsg, eventfd, memfd, signalfd hide behind _GNU_SOURCE or outside its umbrella
// header). Every such call gets a `sluice_` wrapper here — no dlsym, no @_silgen_name elsewhere.
// (The allocation-budget tests' dlsym of `sluice_malloc_count` binds no glibc call: it asks whether
// CMallocCounter's interposer was preloaded.)
// Each wrapper returns -1 and leaves errno set on failure, like the call it wraps.
// None of them retries EINTR: the Swift caller's single syscall choke point does that.
#ifndef SLUICE_CSHIMS_H
#define SLUICE_CSHIMS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>

// MARK: - Constants exported for Swift
// The values are the kernel's (linux/if_tun.h, sys/eventfd.h, linux/memfd.h, sys/socket.h);
// cshims.c checks each against the system header with _Static_assert. Swift does not import
// the function-like ioctl macros, and keeping kernel headers out of this header keeps the
// module's surface to what we mean to export.

/// Interface name size including the NUL (IFNAMSIZ, linux/if.h).
static const size_t SLUICE_IFNAMSIZ = 16;

/// TUNSETIFF flags (linux/if_tun.h).
static const int SLUICE_IFF_TUN = 0x0001;          ///< layer 3: IP packets
static const int SLUICE_IFF_TAP = 0x0002;          ///< layer 2: Ethernet frames
static const int SLUICE_IFF_NO_PI = 0x1000;        ///< no 4-byte packet-information prefix
static const int SLUICE_IFF_VNET_HDR = 0x4000;     ///< frames carry a struct virtio_net_hdr prefix
static const int SLUICE_IFF_MULTI_QUEUE = 0x0100;  ///< several fds may attach to one device

/// TUNSETOFFLOAD flags (linux/if_tun.h): what the reader of the fd can handle.
static const unsigned SLUICE_TUN_F_CSUM = 0x01;    ///< packets with a partial checksum
static const unsigned SLUICE_TUN_F_TSO4 = 0x02;    ///< TSO for IPv4
static const unsigned SLUICE_TUN_F_TSO6 = 0x04;    ///< TSO for IPv6
static const unsigned SLUICE_TUN_F_TSO_ECN = 0x08; ///< TSO with ECN
static const unsigned SLUICE_TUN_F_UFO = 0x10;     ///< UDP fragmentation offload

/// eventfd flags (sys/eventfd.h).
static const int SLUICE_EFD_CLOEXEC = 02000000;
static const int SLUICE_EFD_NONBLOCK = 00004000;
static const int SLUICE_EFD_SEMAPHORE = 00000001;

/// memfd_create flags (linux/memfd.h).
static const unsigned SLUICE_MFD_CLOEXEC = 0x0001U;
static const unsigned SLUICE_MFD_ALLOW_SEALING = 0x0002U;

/// Set in *flags_out by sluice_recvmsg_fds when fds were dropped (MSG_CTRUNC, sys/socket.h).
static const int SLUICE_MSG_CTRUNC = 0x08;
/// Set in *flags_out when the datagram was longer than the buffer (MSG_TRUNC, sys/socket.h).
static const int SLUICE_MSG_TRUNC = 0x20;

/// The most fds one SCM_RIGHTS message may carry (SCM_MAX_FD, linux/net/scm.h).
static const size_t SLUICE_SCM_MAX_FD = 253;

/// epoll_ctl operations and event bits (sys/epoll.h).
static const int SLUICE_EPOLL_CTL_ADD = 1;
static const int SLUICE_EPOLL_CTL_DEL = 2;
static const int SLUICE_EPOLL_CTL_MOD = 3;
static const uint32_t SLUICE_EPOLLIN = 0x001;
static const uint32_t SLUICE_EPOLLOUT = 0x004;
static const uint32_t SLUICE_EPOLLERR = 0x008;
static const uint32_t SLUICE_EPOLLHUP = 0x010;
static const uint32_t SLUICE_EPOLLRDHUP = 0x2000;

// MARK: - TUN/TAP

/// Opens /dev/net/tun (O_RDWR | O_CLOEXEC, blocking) and attaches it to interface `name_in`
/// with TUNSETIFF and `flags` (SLUICE_IFF_*). `name_in` may be NULL or "" (the kernel picks
/// tunN/tapN) or contain "%d". The name the kernel chose is copied to `name_out` (which may be
/// NULL; otherwise `name_len` must be at least SLUICE_IFNAMSIZ). Returns the fd.
/// Errors: ENAMETOOLONG if `name_in` does not fit IFNAMSIZ, EINVAL if `name_len` is too small,
/// else open(2)/ioctl(2)'s errno (EPERM without CAP_NET_ADMIN, EBUSY if the name is taken).
int sluice_tun_open(const char *name_in, char *name_out, size_t name_len, int flags);

/// TUNSETOFFLOAD: tells the device which offloads (SLUICE_TUN_F_*) the fd's reader handles.
/// Returns 0.
int sluice_tun_set_offload(int fd, unsigned flags);

/// TUNSETVNETHDRSZ: the size of the virtio-net header prefix (10, or 12 with mergeable buffers
/// or VIRTIO_F_VERSION_1). Returns 0.
int sluice_tun_set_vnet_hdr_size(int fd, int size);

/// TUNGETVNETHDRSZ: the current virtio-net header size, stored in *size. Returns 0.
int sluice_tun_get_vnet_hdr_size(int fd, int *size);

// MARK: - epoll

/// One ready descriptor as sluice_epoll_wait reports it: the events and the registration's
/// data. Naturally aligned (the kernel's struct epoll_event is packed on x86-64).
typedef struct sluice_epoll_ready {
    uint32_t events;
    uint64_t data;
} sluice_epoll_ready;

/// The most events one sluice_epoll_wait returns.
static const int SLUICE_EPOLL_MAX_READY = 256;

/// epoll_create1(EPOLL_CLOEXEC). Returns the fd.
int sluice_epoll_create(void);

/// epoll_ctl(2): `op` is SLUICE_EPOLL_CTL_*; `events` (SLUICE_EPOLL*) and `data` are ignored
/// for SLUICE_EPOLL_CTL_DEL. Returns 0.
int sluice_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

/// epoll_wait(2) for up to `max` (at most SLUICE_EPOLL_MAX_READY) descriptors, `timeout_ms` as
/// epoll_wait's (-1 waits forever). Returns how many were stored in `ready`.
int sluice_epoll_wait(int epfd, sluice_epoll_ready *ready, int max, int timeout_ms);

// MARK: - Sockets

/// accept4(2) without the peer's address; `flags` are SOCK_NONBLOCK / SOCK_CLOEXEC. Returns the fd.
int sluice_accept4(int fd, int flags);

/// struct mmsghdr (sys/socket.h, _GNU_SOURCE): one message of a recvmmsg/sendmmsg batch and the
/// bytes it moved. cshims.c checks the layout against glibc's.
typedef struct sluice_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} sluice_mmsghdr;

/// sendmmsg(2) of `count` messages. Returns how many were sent (then sent ones' msg_len is set).
int sluice_sendmmsg(int fd, sluice_mmsghdr *messages, unsigned count, int flags);

/// recvmmsg(2) of up to `count` messages, no timeout. Returns how many arrived.
int sluice_recvmmsg(int fd, sluice_mmsghdr *messages, unsigned count, int flags);

// MARK: - SCM_RIGHTS

/// sendmsg(2) of `len` bytes from `buf` with `nfds` fds attached as one SCM_RIGHTS message
/// (none if nfds is 0). Uses MSG_NOSIGNAL: a closed peer gives EPIPE, not SIGPIPE. On a stream
/// socket, send at least one byte with the fds. Returns the bytes sent.
/// Errors: EINVAL if nfds > SLUICE_SCM_MAX_FD or a pointer is NULL with a non-zero count.
ssize_t sluice_sendmsg_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/// recvmsg(2) into `buf` with MSG_CMSG_CLOEXEC. Up to `max_fds` received fds are stored in
/// `fds_out` (close-on-exec) and their count in *nfds_out; any further fds are closed here and
/// SLUICE_MSG_CTRUNC is set in *flags_out, which otherwise carries recvmsg's msg_flags
/// (SLUICE_MSG_TRUNC, SLUICE_MSG_CTRUNC). `nfds_out` and `flags_out` may be NULL.
/// Returns the bytes received (0 at end of stream).
ssize_t sluice_recvmsg_fds(int sock, void *buf, size_t len, int *fds_out, size_t max_fds,
                           size_t *nfds_out, int *flags_out);

// MARK: - eventfd

/// eventfd(2) with `initval` and SLUICE_EFD_* flags. Returns the fd.
int sluice_eventfd(unsigned initval, int flags);

/// Reads the counter (resetting it, or decrementing by 1 with SLUICE_EFD_SEMAPHORE) into
/// *value. Returns 0; -1 with EAGAIN when the counter is 0 on a non-blocking fd.
int sluice_eventfd_read(int fd, uint64_t *value);

/// Adds `value` to the counter. Returns 0; -1 with EAGAIN if it would overflow on a
/// non-blocking fd, EINVAL for UINT64_MAX.
int sluice_eventfd_write(int fd, uint64_t value);

// MARK: - memfd

/// memfd_create(2): an anonymous file, size 0, to ftruncate and mmap (guest memory, rings).
/// `flags` are SLUICE_MFD_*. Returns the fd.
int sluice_memfd_create(const char *name, unsigned flags);

// MARK: - signalfd

/// signalfd(2) for `mask`: a new non-blocking, close-on-exec descriptor that reports those
/// signals (which the caller must block, or they are delivered as usual). Returns the fd.
int sluice_signalfd(const sigset_t *mask);

/// Reads one signal from a signalfd: its number, 0 when none is pending, -1 on error.
int sluice_signalfd_read(int fd);

// MARK: - Heap

/// Bytes the C library's allocator holds in live chunks over all arenas plus mmapped chunks
/// (mallinfo2's uordblks + hblkhd): the steady-state memory tests' measure.
size_t sluice_heap_bytes_in_use(void);

// MARK: - Fences for rings shared with another process or a guest

/// Orders later loads after earlier loads (read the index, then the entries it covers).
static inline void sluice_fence_acquire(void) { atomic_thread_fence(memory_order_acquire); }

/// Orders earlier stores before later stores (fill the entries, then publish the index).
static inline void sluice_fence_release(void) { atomic_thread_fence(memory_order_release); }

/// Full barrier: orders earlier stores before later loads too (publish an index, then read
/// the peer's event-suppression field, as virtio's EVENT_IDX requires).
static inline void sluice_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }

#endif
