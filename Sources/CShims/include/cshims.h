// CShims — the few system calls Swift cannot make directly (variadic ioctl, CMSG macros,
// eventfd, memfd). Each wrapper returns -1 and leaves errno set on failure, like the call it wraps.
#ifndef SLUICE_CSHIMS_H
#define SLUICE_CSHIMS_H

#include <stddef.h>
#include <stdint.h>

#endif
