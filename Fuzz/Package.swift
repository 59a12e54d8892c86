// swift-tools-version:6.1
//
// libFuzzer targets for stave's parsers and readers. A separate package so
// that stave's own build never links them. Build and run (scripts/fuzz):
//
//   swift build -c release --sanitize=fuzzer --sanitize=address
//   .build/release/fuzz-csv Corpus/csv -max_total_time=60
//
// Each target feeds arbitrary bytes to one reader and checks what must hold
// whatever the input (no crash, no leak, no sanitizer report; and the
// invariants stated in each main.swift).
import PackageDescription

let stave: [Target.Dependency] = [
    .product(name: "StaveFormat", package: "stave"),
    .product(name: "StaveIO", package: "stave"),
    .product(name: "StaveIngest", package: "stave"),
    .product(name: "StaveQuery", package: "stave"),
    .product(name: "StaveInterop", package: "stave"),
    .product(name: "StaveReports", package: "stave"),
]

let package = Package(
    name: "stave-fuzz",
    dependencies: [.package(name: "stave", path: "..")],
    targets: [
        .executableTarget(name: "fuzz-csv", dependencies: stave),
        .executableTarget(name: "fuzz-store", dependencies: stave),
        .executableTarget(name: "fuzz-manifest", dependencies: stave),
        .executableTarget(name: "fuzz-params", dependencies: stave),
        .executableTarget(name: "fuzz-parquet", dependencies: stave),
        .executableTarget(name: "fuzz-parquet-struct", dependencies: stave),
        .executableTarget(name: "fuzz-compressed", dependencies: stave),
    ]
)
