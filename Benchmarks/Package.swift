// swift-tools-version:6.1
//
// stave's micro-benchmarks (ordo-one/package-benchmark), a package of their
// own so that `swift build` / `swift test` of stave do not build them.
//
//   cd Benchmarks && swift package benchmark
//
import PackageDescription

let package = Package(
    name: "stave-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "stave", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // In-process timings of stave's queries and kernels, median of N runs:
        //   swift run -c release stave-timer STORE [--runs N] [--threads T]
        .executableTarget(
            name: "stave-timer",
            dependencies: [
                .product(name: "StaveFormat", package: "stave"),
                .product(name: "StaveIO", package: "stave"),
                .product(name: "StaveIngest", package: "stave"),
                .product(name: "StaveQuery", package: "stave"),
            ],
            path: "Sources/stave-timer"
        ),
        .executableTarget(
            name: "StaveBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StaveFormat", package: "stave"),
                .product(name: "StaveIO", package: "stave"),
                .product(name: "StaveIngest", package: "stave"),
                .product(name: "StaveGen", package: "stave"),
                .product(name: "StaveQuery", package: "stave"),
            ],
            path: "Benchmarks/StaveBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
