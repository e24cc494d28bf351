#define _GNU_SOURCE
#include "ld4mrec_kernels.h"

#include <sched.h>
#include <unistd.h>

int ld4mrk_available_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}
