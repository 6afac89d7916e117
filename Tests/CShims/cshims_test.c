// cmocka tests of the C shims: each call against the real kernel, plus its failure paths.
// Run by ci/test-cshims.sh.
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <signal.h>

#include "cshims.h"

// An fd number that is certainly not open: above every fd this process has.
static int closed_fd(void) {
    int fd = dup(0);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

// How many fds this process has open (from /proc/self/fd, not counting the directory's own).
static int count_open_fds(void) {
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    int count = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] != '.') count++;
    }
    closedir(dir);
    return count - 1;
}

static int is_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    assert_true(flags >= 0);
    return (flags & FD_CLOEXEC) != 0;
}

// Two fds refer to the same open file description (same inode on the same device).
static int same_file(int a, int b) {
    struct stat sa, sb;
    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// MARK: - eventfd

static void eventfd_write_then_read_returns_the_sum(void **state) {
    (void)state;
    int fd = sluice_eventfd(0, SLUICE_EFD_NONBLOCK | SLUICE_EFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(is_cloexec(fd));
    assert_int_equal(sluice_eventfd_write(fd, 5), 0);
    assert_int_equal(sluice_eventfd_write(fd, 37), 0);
    uint64_t value = 0;
    assert_int_equal(sluice_eventfd_read(fd, &value), 0);
    assert_int_equal(value, 42);
    close(fd);
}

static void eventfd_initial_value_is_readable(void **state) {
    (void)state;
    int fd = sluice_eventfd(7, SLUICE_EFD_NONBLOCK);
    assert_true(fd >= 0);
    uint64_t value = 0;
    assert_int_equal(sluice_eventfd_read(fd, &value), 0);
    assert_int_equal(value, 7);
    close(fd);
}

static void eventfd_read_on_empty_nonblocking_gives_eagain(void **state) {
    (void)state;
    int fd = sluice_eventfd(0, SLUICE_EFD_NONBLOCK);
    assert_true(fd >= 0);
    uint64_t value = 99;
    errno = 0;
    assert_int_equal(sluice_eventfd_read(fd, &value), -1);
    assert_int_equal(errno, EAGAIN);
    // Drained counter: after one write and one read, empty again.
    assert_int_equal(sluice_eventfd_write(fd, 1), 0);
    assert_int_equal(sluice_eventfd_read(fd, &value), 0);
    assert_int_equal(value, 1);
    errno = 0;
    assert_int_equal(sluice_eventfd_read(fd, &value), -1);
    assert_int_equal(errno, EAGAIN);
    close(fd);
}

static void eventfd_write_of_max_is_rejected(void **state) {
    (void)state;
    int fd = sluice_eventfd(0, SLUICE_EFD_NONBLOCK);
    assert_true(fd >= 0);
    errno = 0;
    assert_int_equal(sluice_eventfd_write(fd, UINT64_MAX), -1);
    assert_int_equal(errno, EINVAL);
    close(fd);
}

// MARK: - memfd

static void memfd_is_sized_mapped_and_shared(void **state) {
    (void)state;
    int fd = sluice_memfd_create("sluice-test", SLUICE_MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(is_cloexec(fd));
    const size_t size = 2 * 4096;
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, size);

    // Two independent mappings of the file see each other's writes.
    unsigned char *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(a != MAP_FAILED);
    assert_true(b != MAP_FAILED);
    assert_true(a != b);
    for (size_t i = 0; i < size; i++) a[i] = (unsigned char)(i * 7 + 3);
    sluice_fence_seq_cst();
    for (size_t i = 0; i < size; i++) assert_int_equal(b[i], (unsigned char)(i * 7 + 3));

    // And read(2) through the fd sees them too.
    unsigned char head[4];
    assert_int_equal(pread(fd, head, sizeof head, 4096), (ssize_t)sizeof head);
    assert_memory_equal(head, a + 4096, sizeof head);
    munmap(a, size);
    munmap(b, size);
    close(fd);
}

static void memfd_without_name_is_einval(void **state) {
    (void)state;
    errno = 0;
    assert_int_equal(sluice_memfd_create(NULL, 0), -1);
    assert_int_equal(errno, EINVAL);
}

// MARK: - SCM_RIGHTS

// Passes an eventfd and a memfd across a socketpair; the far side uses both.
static void scm_rights_passes_two_working_fds(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int efd = sluice_eventfd(0, SLUICE_EFD_NONBLOCK);
    int mfd = sluice_memfd_create("sluice-scm", 0);
    assert_true(efd >= 0 && mfd >= 0);
    assert_int_equal(ftruncate(mfd, 4096), 0);
    assert_int_equal(pwrite(mfd, "guest", 5, 100), 5);

    const char message[] = "vhost";
    int fds[2] = { efd, mfd };
    assert_int_equal(sluice_sendmsg_fds(sv[0], message, sizeof message, fds, 2), sizeof message);

    char buf[64] = { 0 };
    int got[4] = { -1, -1, -1, -1 };
    size_t nfds = 99;
    int flags = -1;
    ssize_t n = sluice_recvmsg_fds(sv[1], buf, sizeof buf, got, 4, &nfds, &flags);
    assert_int_equal(n, sizeof message);
    assert_string_equal(buf, message);
    assert_int_equal(nfds, 2);
    assert_int_equal(flags & SLUICE_MSG_CTRUNC, 0);
    assert_int_equal(got[2], -1);

    // New descriptors, close-on-exec, for the same files.
    assert_true(got[0] != efd && got[1] != mfd);
    assert_true(is_cloexec(got[0]) && is_cloexec(got[1]));
    assert_true(same_file(got[0], efd));
    assert_true(same_file(got[1], mfd));

    // The received eventfd signals the original: write on the far side, read here.
    assert_int_equal(sluice_eventfd_write(got[0], 3), 0);
    uint64_t value = 0;
    assert_int_equal(sluice_eventfd_read(efd, &value), 0);
    assert_int_equal(value, 3);

    // The received memfd maps the same memory.
    char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, got[1], 0);
    assert_true(mem != MAP_FAILED);
    assert_memory_equal(mem + 100, "guest", 5);
    memcpy(mem + 200, "host", 4);
    char back[4];
    assert_int_equal(pread(mfd, back, 4, 200), 4);
    assert_memory_equal(back, "host", 4);
    munmap(mem, 4096);

    close(got[0]); close(got[1]); close(efd); close(mfd);
    close(sv[0]); close(sv[1]);
}

// More fds than the receiver accepts: it keeps the first ones, the rest are closed, and
// MSG_CTRUNC says so.
static void scm_rights_excess_fds_are_closed_and_flagged(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    enum { sent = 3 };
    int fds[sent];
    for (int i = 0; i < sent; i++) {
        fds[i] = sluice_eventfd(0, SLUICE_EFD_NONBLOCK);
        assert_true(fds[i] >= 0);
    }
    assert_int_equal(sluice_sendmsg_fds(sv[0], "x", 1, fds, sent), 1);
    int open_before = count_open_fds();

    char buf[1];
    int got[1] = { -1 };
    size_t nfds = 99;
    int flags = 0;
    assert_int_equal(sluice_recvmsg_fds(sv[1], buf, sizeof buf, got, 1, &nfds, &flags), 1);
    assert_int_equal(nfds, 1);
    assert_true((flags & SLUICE_MSG_CTRUNC) != 0);
    assert_true(same_file(got[0], fds[0]));
    // Only the kept fd is new: the two excess descriptors were closed.
    assert_int_equal(count_open_fds(), open_before + 1);

    close(got[0]);
    for (int i = 0; i < sent; i++) close(fds[i]);
    close(sv[0]); close(sv[1]);
}

// Receiving with room for no fds at all closes every fd that arrives.
static void scm_rights_zero_max_closes_all(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int efd = sluice_eventfd(0, SLUICE_EFD_NONBLOCK);
    assert_true(efd >= 0);
    assert_int_equal(sluice_sendmsg_fds(sv[0], "y", 1, &efd, 1), 1);
    int open_before = count_open_fds();
    char buf[1];
    size_t nfds = 99;
    int flags = 0;
    assert_int_equal(sluice_recvmsg_fds(sv[1], buf, sizeof buf, NULL, 0, &nfds, &flags), 1);
    assert_int_equal(nfds, 0);
    assert_true((flags & SLUICE_MSG_CTRUNC) != 0);
    assert_int_equal(count_open_fds(), open_before);
    close(efd); close(sv[0]); close(sv[1]);
}

static void scm_rights_without_fds_is_plain_data(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(sluice_sendmsg_fds(sv[0], "hello", 5, NULL, 0), 5);
    char buf[3];
    int got[2] = { -1, -1 };
    size_t nfds = 99;
    int flags = 0;
    // A 5-byte datagram into a 3-byte buffer: MSG_TRUNC, no fds, no MSG_CTRUNC.
    assert_int_equal(sluice_recvmsg_fds(sv[1], buf, sizeof buf, got, 2, &nfds, &flags), 3);
    assert_memory_equal(buf, "hel", 3);
    assert_int_equal(nfds, 0);
    assert_true((flags & SLUICE_MSG_TRUNC) != 0);
    assert_int_equal(flags & SLUICE_MSG_CTRUNC, 0);
    assert_int_equal(got[0], -1);
    close(sv[0]); close(sv[1]);
}

static void scm_rights_end_of_stream_is_zero(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    close(sv[0]);
    char buf[8];
    int got[1];
    size_t nfds = 99;
    assert_int_equal(sluice_recvmsg_fds(sv[1], buf, sizeof buf, got, 1, &nfds, NULL), 0);
    assert_int_equal(nfds, 0);
    // And sending to a closed peer is EPIPE (MSG_NOSIGNAL: no SIGPIPE kills this test).
    int sv2[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2), 0);
    close(sv2[1]);
    errno = 0;
    assert_int_equal(sluice_sendmsg_fds(sv2[0], "z", 1, NULL, 0), -1);
    assert_int_equal(errno, EPIPE);
    close(sv[1]); close(sv2[0]);
}

static void scm_rights_too_many_fds_is_einval(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int fds[254];
    for (size_t i = 0; i < 254; i++) fds[i] = sv[0];
    errno = 0;
    assert_int_equal(sluice_sendmsg_fds(sv[0], "x", 1, fds, SLUICE_SCM_MAX_FD + 1), -1);
    assert_int_equal(errno, EINVAL);
    // The maximum itself goes through, and arrives whole.
    assert_int_equal(sluice_sendmsg_fds(sv[0], "x", 1, fds, SLUICE_SCM_MAX_FD), 1);
    char buf[1];
    int got[254];
    size_t nfds = 0;
    int flags = 0;
    assert_int_equal(sluice_recvmsg_fds(sv[1], buf, 1, got, 254, &nfds, &flags), 1);
    assert_int_equal(nfds, SLUICE_SCM_MAX_FD);
    assert_int_equal(flags & SLUICE_MSG_CTRUNC, 0);
    for (size_t i = 0; i < nfds; i++) close(got[i]);
    close(sv[0]); close(sv[1]);
}

// MARK: - TUN/TAP

static void tun_open_configures_a_tap(void **state) {
    (void)state;
    if (access("/dev/net/tun", F_OK) != 0) {
        print_message("skipped: /dev/net/tun does not exist here\n");
        skip();
    }
    if (geteuid() != 0) {
        print_message("skipped: creating a TAP device needs root (CAP_NET_ADMIN); euid is %u\n",
                      (unsigned)geteuid());
        skip();
    }
    char name[16];
    memset(name, 'x', sizeof name);
    int fd = sluice_tun_open("sltest%d", name, sizeof name,
                             SLUICE_IFF_TAP | SLUICE_IFF_NO_PI | SLUICE_IFF_VNET_HDR);
    if (fd < 0) fail_msg("sluice_tun_open: %s", strerror(errno));
    assert_true(is_cloexec(fd));
    assert_true(strncmp(name, "sltest", 6) == 0);
    assert_true(strchr(name, '%') == NULL);
    assert_true(strlen(name) > 6 && strlen(name) < 16);

    int size = 0;
    assert_int_equal(sluice_tun_get_vnet_hdr_size(fd, &size), 0);
    assert_int_equal(size, 10);  // the kernel's default: sizeof(struct virtio_net_hdr)
    assert_int_equal(sluice_tun_set_vnet_hdr_size(fd, 12), 0);
    assert_int_equal(sluice_tun_get_vnet_hdr_size(fd, &size), 0);
    assert_int_equal(size, 12);
    errno = 0;
    assert_int_equal(sluice_tun_set_vnet_hdr_size(fd, 4), -1);  // below the minimum of 10
    assert_int_equal(errno, EINVAL);

    assert_int_equal(sluice_tun_set_offload(fd, SLUICE_TUN_F_CSUM | SLUICE_TUN_F_TSO4), 0);
    errno = 0;
    assert_int_equal(sluice_tun_set_offload(fd, 0x80000000u), -1);  // unknown offload bit
    assert_int_equal(errno, EINVAL);

    // The name is taken while our fd holds it (without IFF_MULTI_QUEUE).
    errno = 0;
    assert_int_equal(sluice_tun_open(name, NULL, 0, SLUICE_IFF_TAP | SLUICE_IFF_NO_PI), -1);
    assert_int_equal(errno, EBUSY);
    close(fd);
}

static void tun_open_rejects_bad_names(void **state) {
    (void)state;
    errno = 0;
    assert_int_equal(sluice_tun_open("a-name-that-is-too-long", NULL, 0, SLUICE_IFF_TAP), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    char small[8];
    errno = 0;
    assert_int_equal(sluice_tun_open("tap%d", small, sizeof small, SLUICE_IFF_TAP), -1);
    assert_int_equal(errno, EINVAL);
}

// MARK: - Bad fds

static void bad_fd_gives_ebadf_everywhere(void **state) {
    (void)state;
    int fd = closed_fd();
    uint64_t value;
    int size;
    char buf[4];
    int fds[1];
    size_t nfds;

#define EXPECT_EBADF(call) do { errno = 0; assert_int_equal((call), -1); assert_int_equal(errno, EBADF); } while (0)
    EXPECT_EBADF(sluice_eventfd_read(fd, &value));
    EXPECT_EBADF(sluice_eventfd_write(fd, 1));
    EXPECT_EBADF(sluice_tun_set_offload(fd, SLUICE_TUN_F_CSUM));
    EXPECT_EBADF(sluice_tun_set_vnet_hdr_size(fd, 12));
    EXPECT_EBADF(sluice_tun_get_vnet_hdr_size(fd, &size));
    EXPECT_EBADF(sluice_sendmsg_fds(fd, "x", 1, NULL, 0));
    EXPECT_EBADF(sluice_recvmsg_fds(fd, buf, sizeof buf, fds, 1, &nfds, NULL));
    EXPECT_EBADF(sluice_recvmsg_fds(-1, buf, sizeof buf, fds, 1, &nfds, NULL));
    EXPECT_EBADF(sluice_accept4(fd, 0));
    EXPECT_EBADF(sluice_epoll_ctl(fd, SLUICE_EPOLL_CTL_ADD, 0, SLUICE_EPOLLIN, 0));
    sluice_mmsghdr message;
    memset(&message, 0, sizeof message);
    EXPECT_EBADF(sluice_sendmmsg(fd, &message, 1, 0));
    EXPECT_EBADF(sluice_recvmmsg(fd, &message, 1, 0));
#undef EXPECT_EBADF
}

// MARK: - epoll, sendmmsg/recvmmsg

static void epoll_reports_registered_data_and_events(void **state) {
    (void)state;
    int ep = sluice_epoll_create();
    assert_true(ep >= 0);
    int efd = sluice_eventfd(0, SLUICE_EFD_NONBLOCK | SLUICE_EFD_CLOEXEC);
    assert_true(efd >= 0);
    assert_int_equal(sluice_epoll_ctl(ep, SLUICE_EPOLL_CTL_ADD, efd, SLUICE_EPOLLIN, 0x1122334455667788ULL), 0);
    sluice_epoll_ready ready[4];
    assert_int_equal(sluice_epoll_wait(ep, ready, 4, 0), 0);        /* nothing yet */
    assert_int_equal(sluice_eventfd_write(efd, 1), 0);
    assert_int_equal(sluice_epoll_wait(ep, ready, 4, 1000), 1);
    assert_true(ready[0].events & SLUICE_EPOLLIN);
    assert_true(ready[0].data == 0x1122334455667788ULL);
    assert_int_equal(sluice_epoll_ctl(ep, SLUICE_EPOLL_CTL_MOD, efd, SLUICE_EPOLLOUT, 7), 0);
    assert_int_equal(sluice_epoll_wait(ep, ready, 4, 0), 1);
    assert_true(ready[0].events & SLUICE_EPOLLOUT);
    assert_true(ready[0].data == 7);
    assert_int_equal(sluice_epoll_ctl(ep, SLUICE_EPOLL_CTL_DEL, efd, 0, 0), 0);
    assert_int_equal(sluice_epoll_wait(ep, ready, 4, 0), 0);
    errno = 0;
    assert_int_equal(sluice_epoll_wait(ep, NULL, 4, 0), -1);
    assert_int_equal(errno, EINVAL);
    close(efd);
    close(ep);
}

static void mmsg_moves_a_batch_of_datagrams(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    char a[] = "first", b[] = "second!";
    struct iovec out[2] = { { a, 5 }, { b, 7 } };
    sluice_mmsghdr send[2];
    memset(send, 0, sizeof send);
    for (int i = 0; i < 2; i++) { send[i].msg_hdr.msg_iov = &out[i]; send[i].msg_hdr.msg_iovlen = 1; }
    assert_int_equal(sluice_sendmmsg(sv[0], send, 2, 0), 2);
    assert_int_equal(send[0].msg_len, 5);
    assert_int_equal(send[1].msg_len, 7);
    char in_buf[2][16];
    struct iovec in[2] = { { in_buf[0], 16 }, { in_buf[1], 16 } };
    sluice_mmsghdr receive[2];
    memset(receive, 0, sizeof receive);
    for (int i = 0; i < 2; i++) { receive[i].msg_hdr.msg_iov = &in[i]; receive[i].msg_hdr.msg_iovlen = 1; }
    assert_int_equal(sluice_recvmmsg(sv[1], receive, 2, MSG_DONTWAIT), 2);
    assert_int_equal(receive[0].msg_len, 5);
    assert_int_equal(receive[1].msg_len, 7);
    assert_memory_equal(in_buf[1], "second!", 7);
    errno = 0;
    assert_int_equal(sluice_recvmmsg(sv[1], receive, 2, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

static void heap_bytes_in_use_sees_an_allocation(void **state) {
    (void)state;
    size_t before = sluice_heap_bytes_in_use();
    char *kept = malloc(200000);
    assert_non_null(kept);
    memset(kept, 1, 200000);
    size_t after = sluice_heap_bytes_in_use();
    assert_true(after >= before + 200000);
    free(kept);
    assert_true(sluice_heap_bytes_in_use() < after);
}

static void signalfd_reports_sigterm_instead_of_dying(void **state) {
    (void)state;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &mask, NULL), 0);
    int fd = sluice_signalfd(&mask);
    assert_true(fd >= 0);
    assert_int_equal(sluice_signalfd(NULL), -1);
    assert_int_equal(sluice_signalfd_read(fd), 0);          /* nothing pending yet */
    assert_int_equal(raise(SIGTERM), 0);                    /* blocked: becomes readable */
    assert_int_equal(sluice_signalfd_read(fd), SIGTERM);
    assert_int_equal(sluice_signalfd_read(fd), 0);
    assert_int_equal(sluice_signalfd_read(-1), -1);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eventfd_write_then_read_returns_the_sum),
        cmocka_unit_test(eventfd_initial_value_is_readable),
        cmocka_unit_test(eventfd_read_on_empty_nonblocking_gives_eagain),
        cmocka_unit_test(eventfd_write_of_max_is_rejected),
        cmocka_unit_test(memfd_is_sized_mapped_and_shared),
        cmocka_unit_test(memfd_without_name_is_einval),
        cmocka_unit_test(scm_rights_passes_two_working_fds),
        cmocka_unit_test(scm_rights_excess_fds_are_closed_and_flagged),
        cmocka_unit_test(scm_rights_zero_max_closes_all),
        cmocka_unit_test(scm_rights_without_fds_is_plain_data),
        cmocka_unit_test(scm_rights_end_of_stream_is_zero),
        cmocka_unit_test(scm_rights_too_many_fds_is_einval),
        cmocka_unit_test(tun_open_configures_a_tap),
        cmocka_unit_test(tun_open_rejects_bad_names),
        cmocka_unit_test(bad_fd_gives_ebadf_everywhere),
        cmocka_unit_test(epoll_reports_registered_data_and_events),
        cmocka_unit_test(mmsg_moves_a_batch_of_datagrams),
        cmocka_unit_test(heap_bytes_in_use_sees_an_allocation),
        cmocka_unit_test(signalfd_reports_sigterm_instead_of_dying),
    };
    return cmocka_run_group_tests_name("cshims", tests, NULL, NULL);
}
