// CMallocCounter — counts heap allocations made by this process, for `sluice bench`'s
// "allocations per frame" column. Linked only into the sluice executable: it interposes
// malloc/calloc/realloc/posix_memalign/aligned_alloc and forwards to glibc's implementations.
#ifndef SLUICE_MALLOC_COUNTER_H
#define SLUICE_MALLOC_COUNTER_H
#include <stdint.h>

/// Allocations (malloc, calloc, realloc, aligned variants) since the process started.
uint64_t sluice_malloc_count(void);
/// 1 when the interposer is active in this process.
int sluice_malloc_counter_active(void);

#endif
