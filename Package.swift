// swift-tools-version:6.1
//
// stave: a columnar store and query tool for music-listening event logs.
//
// Linux only (Debian/Ubuntu with Swift 6.1 or later): the code calls Glibc,
// reads /proc/self/exe and uses the C libraries through pkg-config. It
// declares no Apple platform because it has never been built on one.
//
// Modules, one per concern:
//   CZstd         libzstd, through pkg-config (apt: libzstd-dev)
//   CZlib         zlib, through pkg-config (apt: zlib1g-dev): gzip input
//   CDeflate      libdeflate, through pkg-config (apt: libdeflate-dev): CRC-32
//                 of Parquet pages
//   CSnappy       libsnappy, through pkg-config (apt: libsnappy-dev), for Parquet
//                 files other tools write
//   CStaveSupport header-only C helpers Swift cannot spell (a prefetch hint, mallopt)
//   StaveFormat   on-disk structures: constants, checksums, encodings, footer,
//                 manifest, logical types. Pure bytes, no I/O.
//   StaveIO       mapped files, atomic output, the zstd shim, part writer and
//                 the validating store reader.
//   StaveInterop  Parquet (Thrift compact metadata, pages, writer and reader)
//                 and the Arrow IPC stream writer: formats other tools speak.
//   StaveIngest   CSV (and Parquet) input and the streaming converter.
//   StaveGen      the seeded synthetic data generator.
//   StaveQuery    scan planning (chunk skipping) and the profile/stats kernels.
//   StaveReports  tables of results and their writers (csv, json, ndjson, table),
//                 and the one description of every query (parameters, runner)
//                 that the CLI and the server share.
//   CStave        stave.h: the C interface, with the Arrow C Data/Stream structures
//   StaveC        the C interface (libStaveC.so): open, query, scan, convert,
//                 append; results as Arrow C streams. python/ binds it.
//   StaveServer   `stave serve`: the HTTP API and the live dashboard page
//                 (Hummingbird 2; the only module that links it).
//   stave         the command-line shell (ArgumentParser); `stave serve` runs
//   StaveServeOptions  serve's options and help, shared by stave and stave-serve
//   stave-serve   the server's own small shell, kept out of `stave` so that
//                 queries start without Hummingbird and SwiftNIO.
//
// Micro-benchmarks (package-benchmark) live in their own package in
// Benchmarks/, so that building and testing stave does not build them.
import PackageDescription

let package = Package(
    name: "stave",
    products: [
        .executable(name: "stave", targets: ["stave"]),
        // `stave serve` runs it: the HTTP server in its own binary, so that
        // the query commands do not load it.
        .executable(name: "stave-serve", targets: ["stave-serve"]),
        // Libraries, for the benchmark package in Benchmarks/ (and embedders).
        .library(name: "StaveFormat", targets: ["StaveFormat"]),
        .library(name: "StaveInterop", targets: ["StaveInterop"]),
        .library(name: "StaveIO", targets: ["StaveIO"]),
        .library(name: "StaveIngest", targets: ["StaveIngest"]),
        .library(name: "StaveGen", targets: ["StaveGen"]),
        .library(name: "StaveQuery", targets: ["StaveQuery"]),
        .library(name: "StaveReports", targets: ["StaveReports"]),
        // libStaveC.so: the C interface (Sources/CStave/stave.h) that the
        // Python package in python/ loads, and any other language can.
        .library(name: "StaveC", type: .dynamic, targets: ["StaveC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // No default traits: stave needs neither swift-configuration nor full Foundation from it.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // Graceful shutdown of the server's event streams (Hummingbird depends on it too).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0", traits: []),
        // The server's socket errors (a taken port): IOError (Hummingbird depends on it too).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CDeflate",
            path: "Sources/CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]
        ),
        .systemLibrary(
            name: "CSnappy",
            path: "Sources/CSnappy",
            pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]
        ),
        // stave.h, the C interface's header (with the Arrow C Data and Stream
        // structures), which StaveC implements.
        .systemLibrary(name: "CStave", path: "Sources/CStave"),
        // Header-only C helpers (a prefetch hint) for the query kernels, the
        // converter's layout and the generator's look-ups.
        .systemLibrary(name: "CStaveSupport", path: "Sources/CStaveSupport"),
        .target(name: "StaveFormat"),
        .target(name: "StaveServeOptions", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "StaveInterop", dependencies: ["StaveFormat", "StaveIO", "CSnappy", "CDeflate"]),
        .target(name: "StaveIO", dependencies: ["StaveFormat", "CZstd", "CZlib", "CStaveSupport"]),
        .target(name: "StaveIngest", dependencies: ["StaveFormat", "StaveIO", "StaveInterop", "CStaveSupport"]),
        .target(name: "StaveGen", dependencies: ["StaveFormat", "StaveIO", "CStaveSupport"]),
        .target(name: "StaveQuery", dependencies: ["StaveFormat", "StaveIO", "CStaveSupport"]),
        .target(name: "StaveReports", dependencies: ["StaveFormat", "StaveIO", "StaveQuery", "StaveInterop"]),
        .target(name: "StaveC", dependencies: ["CStave", "StaveFormat", "StaveIO", "StaveIngest", "StaveInterop", "StaveQuery", "StaveReports"]),
        .target(
            name: "StaveServer",
            dependencies: [
                "StaveFormat", "StaveIO", "StaveQuery", "StaveReports",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            // The dashboard page as the files it is (HTML, CSS, JavaScript),
            // compiled into the binary: nothing to install next to it.
            resources: [.embedInCode("Dashboard/index.html"), .embedInCode("Dashboard/app.css"), .embedInCode("Dashboard/app.js")]
        ),
        .executableTarget(
            name: "stave",
            dependencies: [
                "StaveFormat", "StaveIO", "StaveIngest", "StaveGen", "StaveQuery", "StaveReports", "StaveInterop", "StaveServeOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "stave-serve",
            dependencies: [
                "StaveFormat", "StaveIO", "StaveServer", "StaveServeOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StaveTests",
            dependencies: ["StaveFormat", "StaveIO", "StaveIngest", "StaveGen", "StaveQuery", "StaveReports", "StaveServer", "StaveInterop", "CZstd"],
            // The hostile stores are read from the source tree by path, not bundled.
            exclude: ["Corpus"]
        ),
        .testTarget(
            name: "StaveCLITests",
            dependencies: ["stave", "StaveFormat", "StaveIO", "StaveGen", "StaveQuery", "StaveReports",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
