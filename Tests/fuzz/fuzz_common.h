/*
 * fuzz_common.h: what the C fuzz targets share (Tests/fuzz/README.md): the input written
 * to a temporary file (the readers under test take paths, and libhdf5 opens files), and
 * the library's status contract, checked after every call. A broken contract aborts,
 * which libFuzzer reports as a crash with the input that caused it.
 */
#ifndef LD4MREC_FUZZ_COMMON_H
#define LD4MREC_FUZZ_COMMON_H

#define _GNU_SOURCE
#include "ld4mrec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A path of this process's own in the temporary folder, made once. */
static inline const char *fuzz_temp_path(const char *name) {
    static char folder[512];
    static char path[1024];
    if (folder[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(folder, sizeof folder, "%s/ld4mrec-fuzz-XXXXXX", tmp != NULL ? tmp : "/tmp");
        if (mkdtemp(folder) == NULL) {
            perror("mkdtemp");
            abort();
        }
    }
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return path;
}

/* Writes the input to `path`, replacing what was there. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *file = fopen(path, "wb");
    if (file == NULL || (size > 0 && fwrite(data, 1, size, file) != size) || fclose(file) != 0) {
        perror(path);
        abort();
    }
}

/* The status contract: a known code, never _INTERNAL (a bug by the header's own words),
 * and a message for every failure. */
static inline void fuzz_check_status(int32_t status, const char *call) {
    if (status < LD4MREC_OK || status > LD4MREC_ERR_INTERNAL || status == LD4MREC_ERR_INTERNAL) {
        fprintf(stderr, "%s returned status %d: %s\n", call, status, ld4mrec_last_error());
        abort();
    }
    if (status != LD4MREC_OK && ld4mrec_last_error()[0] == '\0') {
        fprintf(stderr, "%s failed with status %d and no message\n", call, status);
        abort();
    }
}

#define FUZZ_ASSERT(cond)                                                             \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond);        \
            abort();                                                                  \
        }                                                                             \
    } while (0)

#endif
