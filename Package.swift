// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ld4mrec",
    products: [
        // libld4mrec.so: the C ABI declared in Include/ld4mrec.h.
        .library(name: "ld4mrec", type: .dynamic, targets: ["LD4MRecCABI"]),
        // The Swift API, for Swift apps.
        .library(name: "LD4MRec", targets: ["LD4MRec"]),
        // The command-line tool. SwiftPM drops an executable product that shares its name
        // with a library product, so it is built as `ld4mrec-cli` and installed as
        // `ld4mrec` by the Makefile.
        .executable(name: "ld4mrec-cli", targets: ["LD4MRecCLI"]),
        .executable(name: "ld4mrec-benchmark", targets: ["LD4MRecBenchmark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Implementation.
        .target(name: "LD4MRec", dependencies: ["CLD4MRecBLAS", "CLD4MRecHDF5"]),
        // The export layer: one thunk per function of Include/ld4mrec.h, checked against it.
        .target(name: "LD4MRecCABI", dependencies: ["LD4MRec", "CLD4MRec"], exclude: ["exports.map"]),
        .systemLibrary(name: "CLD4MRec", path: "Include"),
        .executableTarget(
            name: "LD4MRecCLI",
            dependencies: ["LD4MRec", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "SwiftExample", dependencies: ["LD4MRec"], path: "Examples/swift"),
        .executableTarget(name: "LD4MRecBenchmark", dependencies: ["LD4MRec", "CLD4MRecBLAS"]),

        // System libraries, found through pkg-config.
        .systemLibrary(
            name: "CLD4MRecBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLD4MRecHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),

        // Tests.
        .testTarget(name: "LD4MRecTests", dependencies: ["LD4MRec"]),
    ]
)
