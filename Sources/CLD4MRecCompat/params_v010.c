/*
 * ld4mrec_recommend_params_default for binaries built against the 0.1.0 header.
 *
 * The function returns its struct by value, and on x86-64 and AArch64 a struct that
 * large is returned through a buffer the caller allocates with the size it was compiled
 * with. When 0.2.0 appended n_threads, the struct grew from 48 to 56 bytes: the new
 * function writes 56 bytes (and struct_size 56), past the end of a 0.1.0 caller's buffer,
 * and that caller would then pass struct_size 56 for a 48-byte struct. So the library
 * exports the function once per layout, as GNU symbol versions (glibc's way with structs
 * that grew): this one as ld4mrec_recommend_params_default@LD4MREC_0.1, the current one
 * (LD4MRecCABI) as the default @@LD4MREC_0.2. A binary linked against 0.1.0, whose
 * reference carries no version, is bound to LD4MREC_0.1 (the oldest) by the dynamic
 * linker; binaries linked against 0.2.0 or later record LD4MREC_0.2.
 *
 * Compiled only when the library is linked with Sources/LD4MRecCABI/exports.map, which
 * defines the versions (the Makefile passes -DLD4MREC_SYMBOL_VERSIONS with it): without
 * the map the linker refuses a symbol of an undefined version.
 */
#ifdef LD4MREC_SYMBOL_VERSIONS

#include "ld4mrec_compat.h"

/* Not named ld4mrec_*: the version map exports only the versioned alias below. */
__attribute__((visibility("default"))) struct ld4mrec_recommend_params_v010
ld4mrec0_recommend_params_default_v010(void) {
    struct ld4mrec_recommend_params_v010 params = {sizeof params, true, NULL, 0, NULL, 0};
    return params;
}
__asm__(".symver ld4mrec0_recommend_params_default_v010, ld4mrec_recommend_params_default@LD4MREC_0.1");

#endif
