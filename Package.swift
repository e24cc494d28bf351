// swift-tools-version:6.0
import PackageDescription

// The layers are targets, so that the compiler keeps the architecture (README, "Layout"):
//
//   LD4MRecCore      model maths: tensors, the C-Net, condition signals; no IO
//   LD4MRecStorage   the only layer that touches files: HDF5 model and store files,
//                    MMRec dataset folders, .npy
//   LD4MRecServing   a loaded model, history stores, scoring and top-K
//   LD4MRecTraining  Algorithm 1, the SVD and EASE, evaluation
//
//   Core <- Storage <- Serving <- Training;  LD4MRec re-exports all four for Swift apps;
//   the C ABI (LD4MRecCABI) sits on Serving, the CLI on LD4MRec.
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
        // The layers.
        .target(name: "LD4MRecCore", dependencies: ["CLD4MRecBLAS", "CLD4MRecKernels", "CLD4MRec"]),
        // The library's own C: machine queries and reduced-precision kernels.
        .target(name: "CLD4MRecKernels"),
        .target(name: "LD4MRecStorage", dependencies: ["LD4MRecCore", "CLD4MRecHDF5"]),
        .target(name: "LD4MRecServing", dependencies: ["LD4MRecCore", "LD4MRecStorage"]),
        .target(name: "LD4MRecTraining", dependencies: ["LD4MRecCore", "LD4MRecServing", "CLD4MRecBLAS"]),
        .target(name: "LD4MRec", dependencies: ["LD4MRecCore", "LD4MRecStorage", "LD4MRecServing", "LD4MRecTraining"]),

        // The export layer: one thunk per function of Include/ld4mrec.h, checked against it.
        .target(name: "LD4MRecCABI", dependencies: ["LD4MRecCore", "LD4MRecStorage", "LD4MRecServing", "CLD4MRec",
                                                    "CLD4MRecCompat"],
                exclude: ["exports.map"]),
        // Older layouts of what the C ABI returns by value, for binaries built against
        // older headers (symbol versions; see exports.map).
        .target(name: "CLD4MRecCompat"),
        .executableTarget(
            name: "LD4MRecCLI",
            dependencies: ["LD4MRec", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "LD4MRecBenchmark", dependencies: ["LD4MRec", "CLD4MRecBLAS"]),
        .executableTarget(name: "SwiftExample", dependencies: ["LD4MRec"], path: "Examples/swift"),

        // C modules: the public header (for the export layer's checks and the version), and
        // the system libraries, found through pkg-config.
        .systemLibrary(name: "CLD4MRec", path: "Include"),
        .systemLibrary(
            name: "CLD4MRecBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLD4MRecHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),

        // Tests.
        .testTarget(name: "LD4MRecTests",
                    dependencies: ["LD4MRecCore", "LD4MRecStorage", "LD4MRecServing", "LD4MRecTraining", "CLD4MRecKernels"]),
    ]
)
