// swift-tools-version:6.0
// Digits: distributed data-parallel CNN training on MNIST over ZeroMQ.
// Targets are split by dependency weight (see docs/ARCHITECTURE.md and ../shared/DESIGN.md):
// pure math and codecs have no I/O; system libraries sit behind tiny module maps.
import PackageDescription

/// Numeric targets are always compiled with optimisation and for one fixed ISA level
/// (x86-64-v3: AVX2 + FMA), even in debug builds: debug Swift runs SIMD loops ~1000x slower,
/// and a fixed ISA level keeps kernels bitwise identical on every machine that runs them.
/// `-fno-math-errno`: Float.squareRoot() goes through a C shim that otherwise keeps a libm call
/// for errno on negative inputs, which stops loops vectorising (sqrt stays correctly rounded).
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-O", "-Xcc", "-march=x86-64-v3", "-Xcc", "-fno-math-errno"])
]

let package = Package(
    name: "Digits",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "digits", targets: ["digits"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The coordinator's live status page and /metrics (StatusServer target only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2")
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5"),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "CSupport"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        // The inference server: request decoding and preprocessing (pure), the drawing page,
        // Prometheus metrics and the Hummingbird app around them.
        .target(
            name: "Serving",
            dependencies: [
                "Training", "MNISTData", "CTurboJPEG",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        // No dependencies, so scripts/fuzz.sh can compile it alone with -sanitize=fuzzer.
        .target(name: "WireProtocol", swiftSettings: kernelFlags),
        .target(
            name: "Cluster",
            dependencies: [
                "Training", "WireProtocol", "StatusModel",
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        // Child processes started, watched and stopped one way: the local cluster's, the load test's
        // coordinator, sweep trials (output prefixed or to a file, SIGTERM then SIGKILL, peak RSS).
        .target(name: "Supervision"),
        // The cluster's processes as library code: the coordinator, worker and parameter-server
        // loops over a Transport (ZeroMQ between processes, in memory for tests), endpoints and
        // transport security. The CLI only parses arguments and calls in.
        .target(
            name: "ClusterRuntime",
            dependencies: [
                "Cluster", "Training", "WireProtocol", "ZeroMQ", "CSupport", "Supervision", "StatusModel", "StatusServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus")
            ]
        ),
        // `digits loadtest`: a coordinator child under production workers with a precomputed gradient,
        // its counters read from the status JSON; the raw libzmq round-trip ceiling.
        .target(
            name: "LoadTest",
            dependencies: [
                "ClusterRuntime", "Cluster", "Training", "NeuralNet", "MNISTData", "WireProtocol", "ZeroMQ", "Supervision", "StatusModel",
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        // The status snapshot (what the status page, /status.json and /metrics show) and the recent
        // warnings list: plain Codable data, so the HTTP side needs nothing of the cluster.
        .target(
            name: "StatusModel",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TensorKit",
            dependencies: ["COpenBLAS"],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "NeuralNet",
            dependencies: ["TensorKit"],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "MNISTData",
            dependencies: [
                "TensorKit", "CZlib",
                .product(name: "Crypto", package: "swift-crypto")
            ],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "Training",
            dependencies: [
                "NeuralNet", "MNISTData", "Supervision",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit")
            ]
        ),
        // Export to other runtimes: pure encoders (protobuf/ONNX, the Keras HDF5 layout, .npy) and a thin
        // libhdf5 writer.
        .target(name: "ModelExport", dependencies: ["NeuralNet", "TensorKit"]),
        .target(name: "HDF5", dependencies: ["CHDF5", "ModelExport"]),
        // Figures (PNG grids, SVG charts), the HTML run report and TensorBoard event files.
        .target(
            name: "Reports",
            dependencies: [
                "Training", "MNISTData",
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        // HTTP for the coordinator's status page, /metrics and /healthz; keeps Hummingbird out of Cluster
        // and knows nothing of the cluster but its snapshot.
        .target(
            name: "StatusServer",
            dependencies: [
                "StatusModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        .executableTarget(
            name: "digits",
            dependencies: [
                "Training", "Cluster", "ClusterRuntime", "LoadTest", "Supervision", "Reports", "ZeroMQ", "ModelExport", "HDF5", "Serving",
                "StatusServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus")
            ]
        ),
        .testTarget(name: "TensorKitTests", dependencies: ["TensorKit"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet"]),
        .testTarget(name: "MNISTDataTests", dependencies: ["MNISTData"]),
        .target(name: "TestSupport", dependencies: ["MNISTData"], path: "Tests/TestSupport"),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "MNISTData", "TestSupport"]),
        .testTarget(name: "DigitsCLITests", dependencies: ["Training", "MNISTData", "TestSupport", "ZeroMQ", "WireProtocol", "Serving"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "CSupportTests", dependencies: ["CSupport"]),
        .testTarget(name: "WireProtocolTests", dependencies: ["WireProtocol"]),
        .testTarget(name: "ModelExportTests", dependencies: ["ModelExport", "HDF5", "NeuralNet", "TensorKit"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Training", "MNISTData", "TestSupport"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "MNISTData", "TestSupport"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "StatusModel", "MNISTData", "TestSupport"]),
        .testTarget(
            name: "ClusterRuntimeTests",
            dependencies: ["ClusterRuntime", "Cluster", "StatusModel", "MNISTData", "TestSupport", "Supervision"]),
        .testTarget(
            name: "StatusServerTests",
            dependencies: [
                "StatusServer", "StatusModel", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics")
            ])
    ],
    swiftLanguageModes: [.v5]
)
