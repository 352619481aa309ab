// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "pacer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pacer", targets: ["pacer"]),
        .library(name: "PacerCore", targets: ["PacerCore"]),
        .library(name: "PacerHTTP", targets: ["PacerHTTP"]),
        .library(name: "PacerJSON", targets: ["PacerJSON"]),
        .library(name: "PacerOpenAI", targets: ["PacerOpenAI"]),
        .library(name: "PacerMetrics", targets: ["PacerMetrics"]),
        .library(name: "PacerSimulator", targets: ["PacerSimulator"]),
        .library(name: "PacerTesting", targets: ["PacerTesting"]),
        .library(name: "PacerPostgres", targets: ["PacerPostgres"]),
        .library(name: "PacerJobs", targets: ["PacerJobs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/pointfreeco/swift-clocks.git", from: "1.1.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // `swift package generate-documentation` (CI builds every library's documentation).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        // Engine: bounded concurrency, retry, backoff, timeouts, summary. No networking, no printing.
        .target(
            name: "PacerCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // JSON: the tree parser, the skim and the pull reader on one scanner, exact numbers, the
        // writer. No dependencies: it reads bytes, and PacerHTTP reads it from a ByteBuffer.
        .target(name: "PacerJSON"),
        // HTTP transport on AsyncHTTPClient, error classification, header parsing, URLFetcher.
        .target(
            name: "PacerHTTP",
            dependencies: [
                "PacerCore", "PacerJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // OpenAI chat-completion types, ChatClient, APIClient, pricing, the response cache.
        .target(
            name: "PacerOpenAI",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Run metrics on swift-metrics (any backend), and a Prometheus endpoint to scrape them from.
        .target(
            name: "PacerMetrics",
            dependencies: [
                "PacerCore",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // A real Hummingbird server that behaves like an OpenAI-compatible API and a JSON API.
        .target(
            name: "PacerSimulator",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON", "PacerOpenAI",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // PostgreSQL for scale-out: the batch queue's schema and queries, and a throwaway server for tests and the demo.
        .target(
            name: "PacerPostgres",
            dependencies: [
                "PacerCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // For ConnectionPoolError, which PostgresClient throws when it cannot connect.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Test support: run a block against a simulator on a free loopback port; self-signed certificates;
        // a throwaway PostgreSQL; scrape a metrics endpoint.
        .target(
            name: "PacerTesting",
            dependencies: [
                "PacerSimulator", "PacerPostgres",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The run as a library: input reading and checking, the journal and its compaction,
        // output and error writers, job feeds, the cost guard and the reorder window. No
        // argument parsing, no printing, no exit.
        .target(
            name: "PacerJobs",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON", "PacerOpenAI", "PacerPostgres",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `pacer serve`: OpenAI's Files and Batches API on Hummingbird, in front of any server.
        .target(
            name: "PacerServe",
            dependencies: [
                "PacerCore", "PacerJSON", "PacerJobs", "PacerOpenAI", "PacerPostgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The command line: commands, option groups, the console (progress, summary text).
        .target(
            name: "PacerCLI",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON", "PacerJobs", "PacerMetrics", "PacerOpenAI", "PacerSimulator",
                "PacerPostgres", "PacerServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // `pacer bench`: pacing accuracy, throughput, client overhead and memory, against the simulator.
        .target(
            name: "PacerBench",
            dependencies: [
                "PacerCLI", "PacerCore", "PacerHTTP", "PacerJSON", "PacerJobs", "PacerOpenAI", "PacerSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "pacer",
            dependencies: [
                "PacerCLI", "PacerBench", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PacerCoreTests",
            dependencies: ["PacerCore", .product(name: "Clocks", package: "swift-clocks")]
        ),
        .testTarget(
            name: "PacerHTTPTests",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON", "PacerSimulator", "PacerTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "PacerOpenAITests",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON", "PacerOpenAI", "PacerSimulator", "PacerTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PacerMetricsTests",
            dependencies: [
                "PacerCore", "PacerMetrics", "PacerTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "PacerSimulatorTests",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJSON", "PacerOpenAI", "PacerSimulator", "PacerTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PacerCLITests",
            dependencies: [
                "PacerCLI", "PacerCore", "PacerJobs", "PacerHTTP", "PacerJSON", "PacerMetrics", "PacerOpenAI",
                "PacerPostgres", "PacerSimulator",
                "PacerTesting",
            ]
        ),
        .testTarget(
            name: "PacerServeTests",
            dependencies: [
                "PacerCore", "PacerHTTP", "PacerJobs", "PacerOpenAI", "PacerPostgres", "PacerServe", "PacerSimulator",
                "PacerTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PacerPostgresTests",
            dependencies: [
                "PacerCore", "PacerPostgres", "PacerTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
)

// Every target: `any` spelled out for existentials, and each file imports what it uses.
for target in package.targets {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
        ]
}
