// CShims — implementations. See include/cshims.h for the contract of each call.
#define _GNU_SOURCE
#include "cshims.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <malloc.h>
#include <string.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

// The exported constants must be the kernel's.
_Static_assert(IFNAMSIZ == 16, "IFNAMSIZ");
_Static_assert(IFF_TUN == 0x0001 && IFF_TAP == 0x0002 && IFF_NO_PI == 0x1000 &&
               IFF_VNET_HDR == 0x4000 && IFF_MULTI_QUEUE == 0x0100, "IFF_*");
_Static_assert(TUN_F_CSUM == 0x01 && TUN_F_TSO4 == 0x02 && TUN_F_TSO6 == 0x04 &&
               TUN_F_TSO_ECN == 0x08 && TUN_F_UFO == 0x10, "TUN_F_*");
_Static_assert(EFD_CLOEXEC == 02000000 && EFD_NONBLOCK == 00004000 && EFD_SEMAPHORE == 1, "EFD_*");
_Static_assert(MFD_CLOEXEC == 0x0001U && MFD_ALLOW_SEALING == 0x0002U, "MFD_*");
_Static_assert(MSG_CTRUNC == 0x08 && MSG_TRUNC == 0x20, "MSG_*");
_Static_assert(EPOLL_CTL_ADD == 1 && EPOLL_CTL_DEL == 2 && EPOLL_CTL_MOD == 3, "EPOLL_CTL_*");
_Static_assert(EPOLLIN == 0x001 && EPOLLOUT == 0x004 && EPOLLERR == 0x008 && EPOLLHUP == 0x010 &&
               EPOLLRDHUP == 0x2000, "EPOLL*");
_Static_assert(sizeof(sluice_mmsghdr) == sizeof(struct mmsghdr) &&
               offsetof(sluice_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "struct mmsghdr");

// Closes fd without disturbing the errno of the failure being reported.
static void close_keeping_errno(int fd) {
    int saved = errno;
    close(fd);
    errno = saved;
}

// MARK: - TUN/TAP

int sluice_tun_open(const char *name_in, char *name_out, size_t name_len, int flags) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (name_in != NULL) {
        size_t n = strlen(name_in);
        if (n >= IFNAMSIZ) { errno = ENAMETOOLONG; return -1; }
        memcpy(ifr.ifr_name, name_in, n);
    }
    if (name_out != NULL && name_len < IFNAMSIZ) { errno = EINVAL; return -1; }
    ifr.ifr_flags = (short)flags;

    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        close_keeping_errno(fd);
        return -1;
    }
    if (name_out != NULL) {
        memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
        name_out[IFNAMSIZ - 1] = '\0';
    }
    return fd;
}

int sluice_tun_set_offload(int fd, unsigned flags) {
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -1 : 0;
}

int sluice_tun_set_vnet_hdr_size(int fd, int size) {
    return ioctl(fd, TUNSETVNETHDRSZ, &size) < 0 ? -1 : 0;
}

int sluice_tun_get_vnet_hdr_size(int fd, int *size) {
    if (size == NULL) { errno = EINVAL; return -1; }
    return ioctl(fd, TUNGETVNETHDRSZ, size) < 0 ? -1 : 0;
}

// MARK: - SCM_RIGHTS

// Control-message buffer big enough for SCM_MAX_FD fds, aligned for struct cmsghdr.
typedef union {
    char buf[CMSG_SPACE(253 * sizeof(int))];
    struct cmsghdr align;
} fd_control;

ssize_t sluice_sendmsg_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds) {
    if (nfds > SLUICE_SCM_MAX_FD || (fds == NULL && nfds > 0) || (buf == NULL && len > 0)) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    fd_control control;
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t sluice_recvmsg_fds(int sock, void *buf, size_t len, int *fds_out, size_t max_fds,
                           size_t *nfds_out, int *flags_out) {
    if (nfds_out != NULL) *nfds_out = 0;
    if (flags_out != NULL) *flags_out = 0;
    if ((fds_out == NULL && max_fds > 0) || (buf == NULL && len > 0)) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    fd_control control;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -1;

    // Every received fd is now open in this process: keep the first max_fds, close the rest.
    int flags = msg.msg_flags;
    size_t kept = 0;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cmsg);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof fd);
            if (kept < max_fds) {
                fds_out[kept++] = fd;
            } else {
                close(fd);
                flags |= MSG_CTRUNC;
            }
        }
    }
    if (nfds_out != NULL) *nfds_out = kept;
    if (flags_out != NULL) *flags_out = flags;
    return n;
}

// MARK: - epoll

int sluice_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int sluice_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = { .events = events, .data.u64 = data };
    return epoll_ctl(epfd, op, fd, &event);
}

int sluice_epoll_wait(int epfd, sluice_epoll_ready *ready, int max, int timeout_ms) {
    if (ready == NULL || max <= 0) { errno = EINVAL; return -1; }
    struct epoll_event events[SLUICE_EPOLL_MAX_READY];
    if (max > SLUICE_EPOLL_MAX_READY) max = SLUICE_EPOLL_MAX_READY;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        ready[i].events = events[i].events;
        ready[i].data = events[i].data.u64;
    }
    return n;
}

// MARK: - Sockets

int sluice_accept4(int fd, int flags) {
    return accept4(fd, NULL, NULL, flags);
}

int sluice_sendmmsg(int fd, sluice_mmsghdr *messages, unsigned count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}

int sluice_recvmmsg(int fd, sluice_mmsghdr *messages, unsigned count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

// MARK: - eventfd

int sluice_eventfd(unsigned initval, int flags) {
    return eventfd(initval, flags);
}

int sluice_eventfd_read(int fd, uint64_t *value) {
    if (value == NULL) { errno = EINVAL; return -1; }
    ssize_t n = read(fd, value, sizeof *value);
    if (n < 0) return -1;
    if (n != (ssize_t)sizeof *value) { errno = EIO; return -1; }
    return 0;
}

int sluice_eventfd_write(int fd, uint64_t value) {
    ssize_t n = write(fd, &value, sizeof value);
    if (n < 0) return -1;
    if (n != (ssize_t)sizeof value) { errno = EIO; return -1; }
    return 0;
}

// MARK: - memfd

int sluice_memfd_create(const char *name, unsigned flags) {
    if (name == NULL) { errno = EINVAL; return -1; }
    return memfd_create(name, flags);
}

// MARK: - Heap

size_t sluice_heap_bytes_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

// MARK: - signalfd

int sluice_signalfd(const sigset_t *mask) {
    if (mask == NULL) { errno = EINVAL; return -1; }
    return signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int sluice_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if ((size_t)n != sizeof info) { errno = EIO; return -1; }
    return (int)info.ssi_signo;
}
