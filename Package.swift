// swift-tools-version:6.1
//
// stave: a columnar store and query tool for music-listening event logs.
//
// Modules, one per concern:
//   CZstd         libzstd, through pkg-config (apt: libzstd-dev)
//   StaveFormat   on-disk structures: constants, checksums, encodings, footer,
//                 manifest, logical types. Pure bytes, no I/O.
//   StaveIO       mapped files, atomic output, the zstd shim, part writer and
//                 the validating store reader.
//   StaveIngest   CSV parsing and the streaming converter.
//   StaveGen      the seeded synthetic data generator.
//   StaveQuery    scan planning (chunk skipping) and the profile/stats kernels.
//   StaveReports  tables of results and their writers (csv, json, ndjson, table).
//   stave         the command-line shell (the only ArgumentParser user).
//
// Micro-benchmarks (package-benchmark) live in their own package in
// Benchmarks/, so that building and testing stave does not build them.
import PackageDescription

let package = Package(
    name: "stave",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stave", targets: ["stave"]),
        // Libraries, for the benchmark package in Benchmarks/ (and embedders).
        .library(name: "StaveFormat", targets: ["StaveFormat"]),
        .library(name: "StaveIO", targets: ["StaveIO"]),
        .library(name: "StaveIngest", targets: ["StaveIngest"]),
        .library(name: "StaveGen", targets: ["StaveGen"]),
        .library(name: "StaveQuery", targets: ["StaveQuery"]),
        .library(name: "StaveReports", targets: ["StaveReports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(name: "StaveFormat"),
        .target(name: "StaveIO", dependencies: ["StaveFormat", "CZstd"]),
        .target(name: "StaveIngest", dependencies: ["StaveFormat", "StaveIO"]),
        .target(name: "StaveGen", dependencies: ["StaveFormat"]),
        .target(name: "StaveQuery", dependencies: ["StaveFormat", "StaveIO"]),
        .target(name: "StaveReports", dependencies: ["StaveFormat", "StaveQuery"]),
        .executableTarget(
            name: "stave",
            dependencies: [
                "StaveFormat", "StaveIO", "StaveIngest", "StaveGen", "StaveQuery", "StaveReports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StaveTests",
            dependencies: ["StaveFormat", "StaveIO", "StaveIngest", "StaveGen", "StaveQuery", "StaveReports", "CZstd"]
        ),
        .testTarget(
            name: "StaveCLITests",
            dependencies: ["StaveFormat", "StaveIO", "StaveGen"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
