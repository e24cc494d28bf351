/*
 * replay.c: runs a C fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer,
 * so that `make test` replays the seeds and the regression inputs of the fuzz targets
 * against the release library (Tests/abi/run.sh). Build it together with one target:
 *   gcc Tests/fuzz/replay.c Tests/fuzz/fuzz_capi.c -I Include -L dist/lib -lld4mrec -lm
 *   replay FILE...
 * Prints `replayed N inputs`; a broken expectation aborts, as under libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined by the targets that need set-up; weak, so that the others link too. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize != NULL) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        FILE *file = fopen(argv[i], "rb");
        if (file == NULL) {
            perror(argv[i]);
            return 2;
        }
        fseek(file, 0, SEEK_END);
        long size = ftell(file);
        fseek(file, 0, SEEK_SET);
        uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
        if (data == NULL || (size > 0 && fread(data, 1, (size_t)size, file) != (size_t)size)) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 2;
        }
        fclose(file);
        LLVMFuzzerTestOneInput(data, (size_t)size);
        free(data);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
