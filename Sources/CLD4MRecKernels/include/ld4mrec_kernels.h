/* The few routines of libld4mrec written in C: what the machine offers (cores, CPU
 * features) and the reduced-precision kernels, with a plain fallback where the CPU lacks
 * the instructions. Internal to the library: not part of Include/ld4mrec.h. */
#ifndef LD4MREC_KERNELS_H
#define LD4MREC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Hidden: these never leave libld4mrec.so (only Include/ld4mrec.h's functions do). */
#define LD4MREC_INTERNAL __attribute__((visibility("hidden")))

/* Cores this process may run on (its CPU affinity), at least 1. */
LD4MREC_INTERNAL int ld4mrec_available_cores(void);

#endif
