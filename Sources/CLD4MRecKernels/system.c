#define _GNU_SOURCE
#include "ld4mrec_kernels.h"

#include <sched.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
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

/* OpenBLAS, as Debian 12 ships it (0.3.21, DYNAMIC_ARCH), picks its kernels once, when it
 * loads, from the CPU model; a CPU it does not know (Sapphire Rapids virtual machines
 * report a generic "Intel Xeon Processor") gets the SSE3 kernels ("Prescott"), 4-5 times
 * slower than the AVX-512 ones on the same machine. Where OpenBLAS fell back although the
 * CPU has AVX-512 or AVX2, redo its choice with the matching core type, through the
 * entry points OpenBLAS's own OPENBLAS_CORETYPE handling uses. A user's OPENBLAS_CORETYPE
 * stands; another BLAS, or an OpenBLAS without these entry points, is left alone. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern void openblas_set_num_threads(int) __attribute__((weak));

static const char *better_openblas_core(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

void ld4mrk_prepare_openblas(void) {
    if (openblas_get_corename && gotoblas_dynamic_init && gotoblas_dynamic_quit &&
        getenv("OPENBLAS_CORETYPE") == NULL) {
        const char *core = openblas_get_corename();
        const char *better = better_openblas_core();
        if (core && strcmp(core, "Prescott") == 0 && better) {
            setenv("OPENBLAS_CORETYPE", better, 1);
            gotoblas_dynamic_quit();
            gotoblas_dynamic_init();
            unsetenv("OPENBLAS_CORETYPE");
        }
    }
    /* The library runs BLAS on its own threads (ThreadPool). */
    if (openblas_set_num_threads) openblas_set_num_threads(1);
}

const char *ld4mrk_openblas_core(void) {
    return openblas_get_corename ? openblas_get_corename() : "not OpenBLAS";
}

int ld4mrk_cpu_supports_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Tables of megabytes are read a few kilobytes at a time at scattered rows (the prior's
 * and the input layer's rows of a history, the screen's candidates): with 4 KB pages
 * nearly every such read misses the TLB. Long-lived buffers from 2 MB up (`huge`) are
 * placed on 2 MB boundaries and offered to transparent huge pages (Linux's default THP
 * mode, "madvise", backs only regions that ask). Not a request's own buffers: freed
 * after each call, they would be faulted in and cleared 2 MB at a time on the next. */
enum { HUGE_PAGE = 2 << 20 };

void *ld4mrk_allocate(size_t bytes, int huge) {
    void *p = NULL;
    if (huge && bytes >= HUGE_PAGE) {
        const size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        if (posix_memalign(&p, HUGE_PAGE, rounded) != 0) return NULL;
#ifdef MADV_HUGEPAGE
        madvise(p, rounded, MADV_HUGEPAGE);  /* advice only: failure leaves 4 KB pages */
#endif
        return p;
    }
    return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
}

void ld4mrk_free(void *p) { free(p); }
