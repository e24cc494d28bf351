// swift-tools-version:6.0
// A Swift package that depends on ld4mrec, as an app of yours would: it uses the LD4MRec
// product. Elsewhere, point the path at your checkout of ld4mrec (or use its git URL):
//
//   .package(path: "../ld4mrec")
//   .product(name: "LD4MRec", package: "ld4mrec")
//
// Build and run:  swift build && swift run recommend MODEL.h5
// Needs pkg-config, libopenblas-dev and libhdf5-dev (ld4mrec finds them with pkg-config).
import Foundation
import PackageDescription

// This example sits inside the repository it depends on. SwiftPM names a path dependency
// after its folder, and a checkout may have any name: read it off the path.
let ld4mrec = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

let package = Package(
    name: "ld4mrec-swift-package-example",
    products: [.executable(name: "recommend", targets: ["Recommend"])],
    dependencies: [
        .package(path: ld4mrec.path),
    ],
    targets: [
        .executableTarget(
            name: "Recommend",
            dependencies: [.product(name: "LD4MRec", package: ld4mrec.lastPathComponent)]),
    ]
)
