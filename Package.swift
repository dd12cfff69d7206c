// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tern",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ternd", targets: ["ternd"]),
        .executable(name: "tern", targets: ["tern"]),
        .library(name: "TernClient", targets: ["TernClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "CTernCRC32C"),
        .systemLibrary(name: "CTernLinux", path: "Sources/CTernLinux"),
        .target(name: "TernWire", dependencies: ["CZlib", "CTernCRC32C", "COpenSSL"], swiftSettings: swiftSettings),
        .target(
            name: "TernStorage",
            dependencies: [
                "TernWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "TernRaft", dependencies: ["TernWire"], swiftSettings: swiftSettings),
        .target(
            name: "TernNet",
            dependencies: [
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernBroker",
            dependencies: [
                "TernWire", "TernStorage", "TernNet", "TernRaft",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TernClient",
            dependencies: [
                "TernWire", "TernNet",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ternd",
            dependencies: [
                "TernBroker", "CTernLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tern",
            dependencies: [
                "TernClient",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Examples/: event sourcing, a saga and a CQRS read model, each a small program on TernClient
        // alone (docs/event-sourcing.md). Run with `swift run bank-account ...`.
        .executableTarget(
            name: "bank-account", dependencies: ["TernClient"], path: "Examples/BankAccount", swiftSettings: swiftSettings),
        .executableTarget(
            name: "order-saga", dependencies: ["TernClient"], path: "Examples/OrderSaga", swiftSettings: swiftSettings),
        .executableTarget(
            name: "cqrs-read-model", dependencies: ["TernClient"], path: "Examples/CQRSReadModel",
            swiftSettings: swiftSettings),
        .target(name: "TernTestSupport", dependencies: ["TernWire"], path: "Tests/TernTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "TernWireTests", dependencies: ["TernWire", "TernTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TernStorageTests", dependencies: ["TernStorage", "TernTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TernNetTests", dependencies: ["TernNet", "TernTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TernBrokerTests",
            dependencies: [
                "TernBroker", "TernRaft", "TernNet", "TernStorage", "TernWire", "TernTestSupport", "TernReplicationSimulator",
                "TernRaftSimulator",
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "TernRaftSimulator", dependencies: ["TernRaft"], path: "Tests/TernRaftSimulator",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "raft-sim", dependencies: ["TernRaftSimulator"], path: "Tests/raft-sim", swiftSettings: swiftSettings),
        .target(
            name: "TernReplicationSimulator", dependencies: ["TernBroker", "TernRaft", "TernRaftSimulator", "TernStorage", "TernWire"],
            path: "Tests/TernReplicationSimulator", swiftSettings: swiftSettings),
        .executableTarget(
            name: "replication-sim", dependencies: ["TernReplicationSimulator"], path: "Tests/replication-sim",
            swiftSettings: swiftSettings),
        // scripts/chaos.sh: a workload under random faults against 3 real ternd processes.
        .executableTarget(
            name: "tern-chaos", dependencies: ["TernClient", "TernTestSupport"], path: "Tests/tern-chaos",
            swiftSettings: swiftSettings),
        .testTarget(name: "TernTestSupportTests", dependencies: ["TernTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TernRaftTests", dependencies: ["TernRaft", "TernRaftSimulator", "TernWire", "TernTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TernClientTests", dependencies: ["TernClient", "TernTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ternTests",
            dependencies: ["tern", "TernClient", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "terndTests", dependencies: ["ternd"], swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["TernClient", "TernNet", "TernWire", "TernTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)

// Benchmarks stay out of the test run and out of users' builds: only with TERN_BENCHMARKS=1
// (as hummingbird adds its benchmark target behind an environment variable).
if Context.environment["TERN_BENCHMARKS"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "key-index-bench", dependencies: ["TernStorage", "TernWire"], path: "Benchmarks/KeyIndexBench",
            swiftSettings: swiftSettings))
}

// Fuzz targets (scripts/fuzz.sh): only in a manifest read with TERN_FUZZ set, built into their own
// scratch path with sanitizer flags, so `swift build` and `swift test` (and CI) never see them.
if Context.environment["TERN_FUZZ"] != nil {
    package.targets += [
        .systemLibrary(name: "CTernFuzzer", path: "Fuzz/CTernFuzzer"),
        .executableTarget(
            name: "tern-fuzz",
            dependencies: ["TernWire", "TernStorage", "TernRaft", "TernBroker", "TernNet", "CTernFuzzer"],
            path: "Fuzz/Sources/tern-fuzz",
            swiftSettings: swiftSettings
        ),
    ]
}
