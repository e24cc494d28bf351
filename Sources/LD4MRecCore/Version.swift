import CLD4MRec

/// The library's version. Written in one place, the C header's LD4MREC_VERSION_* macros,
/// which the Makefile, the packages and the bindings read too.
public enum LD4MRecVersion {
    public static let major = Int(LD4MREC_VERSION_MAJOR)
    public static let minor = Int(LD4MREC_VERSION_MINOR)
    public static let patch = Int(LD4MREC_VERSION_PATCH)
    /// "major.minor.patch"
    public static let string = "\(major).\(minor).\(patch)"
}
