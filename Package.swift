// swift-tools-version:6.0
import PackageDescription

// Hot loops are written to vectorise; on x86-64 build them for AVX2 + FMA (every x86 server
// since 2013) instead of the SSE2 baseline.
#if arch(x86_64)
let vectorSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let vectorSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "recsys-dist",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "recsys-dist", targets: ["recsys-dist"]),
        // The emulated CUDA device, for tests only: RECSYS_CUDA_EMULATOR names this library.
        .library(name: "CUDAEmulator", type: .dynamic, targets: ["CUDAEmulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // C libraries, each behind a shim header for the macros Swift cannot import.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

        .systemLibrary(name: "CIntrinsics"),
        .systemLibrary(name: "CNCCL"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // FAISS (Debian's libfaiss-dev: a static library over OpenMP, BLAS and LAPACK) behind a
        // small C interface, and its Swift face: the vector indexes a retriever is served by.
        .target(name: "CFaiss", linkerSettings: [.linkedLibrary("faiss"), .linkedLibrary("gomp"), .linkedLibrary("lapack"),
                                                  .linkedLibrary("blas"), .linkedLibrary("stdc++")]),
        .target(name: "VectorSearch", dependencies: ["CFaiss", "Compute"]),

        .target(name: "Compute", dependencies: ["CBLAS", "CDNNL", "CIntrinsics"], swiftSettings: vectorSettings),
        .target(name: "NeuralNetwork", dependencies: ["Compute"], swiftSettings: vectorSettings),
        .target(name: "DataPipeline", dependencies: ["Compute", "CZlib"], swiftSettings: vectorSettings),
        // Protocol-buffer messages generated from Sources/Protos/proto (launch/generate-protos.sh):
        // ONNX models and TensorBoard events.
        .target(name: "Protos", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["proto"]),
        // The model registry: one `ModelDefinition` per architecture (its config keys, checks,
        // construction, ONNX graph and bench preset), over the networks of NeuralNetwork.
        .target(name: "Models", dependencies: ["Compute", "NeuralNetwork", "Protos"]),
        .target(name: "Distributed", dependencies: ["CMPI", "Compute", "NeuralNetwork"]),
        // The compute backends by the name `training.backend` gives them (CPU, separate memory, CUDA).
        .target(name: "Backends", dependencies: ["Compute", "CUDA", "Distributed"]),
        // Every backend operation compared with the CPU backend's (the CUDA tests, `check-backend`).
        .target(name: "BackendCheck", dependencies: ["Compute"]),
        .target(name: "Checkpointing", dependencies: ["CHDF5", "Compute", "NeuralNetwork", "Distributed"]),
        // The YAML config: its sections, loading with overrides, validation.
        .target(name: "Configuration", dependencies: [
            "Backends", "Compute", "DataPipeline", "Distributed", "Models", "NeuralNetwork", .product(name: "Yams", package: "Yams"),
        ]),
        // The data a config describes: its train and held-out splits, preprocessing to record
        // files, value counts, feature names.
        .target(name: "Datasets", dependencies: ["Checkpointing", "Compute", "Configuration", "DataPipeline", "Distributed"]),
        // What a config builds before anything runs: the model on N ranks (through the
        // registry), its placement and bytes, the memory check.
        .target(name: "Planning", dependencies: ["Backends", "Compute", "Configuration", "DataPipeline", "Distributed", "Models", "NeuralNetwork"]),
        // The training loop, evaluation, metrics and the run's record.
        .target(name: "Training", dependencies: [
            "Compute", "Configuration", "Datasets", "Models", "NeuralNetwork", "DataPipeline", "Distributed", "Checkpointing",
            "Planning", "Protos", "VectorSearch",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], swiftSettings: vectorSettings),
        // The CUDA path's libraries, opened at run time (the binary links none), and its kernels as
        // CUDA C++ compiled by NVRTC for the GPU found.
        .target(name: "CUDA", dependencies: ["CNCCL", "Compute", "Distributed"], resources: [.copy("Kernels")]),
        // The emulated device the CUDA backend's tests run on (never linked into recsys-dist): the
        // driver API answered on the host, the kernels' .cu sources compiled as C++ with the
        // threads of a block interleaved at their barriers by a seed, every access bounds-checked.
        .target(name: "CUDAEmulator", dependencies: ["CMPI"], exclude: ["test-kernels"],
                cxxSettings: [.unsafeFlags(["-ffp-contract=off", "-fno-fast-math"])],
                linkerSettings: [.linkedLibrary("openblas")]),
        // A trained model as an ONNX graph (`recsys-dist export`).
        .target(name: "Export", dependencies: [
            "Checkpointing", "Compute", "Configuration", "Datasets", "Distributed", "Models", "NeuralNetwork", "Planning", "Protos",
            "Training",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        // Throughput of training steps and of the data pipeline (`recsys-dist bench`, `bench-data`).
        .target(name: "Benchmarks", dependencies: ["Backends", "Compute", "Configuration", "DataPipeline", "Distributed", "Models", "NeuralNetwork", "Planning",
                                                   "Training", "VectorSearch"],
                swiftSettings: vectorSettings),
        // Fuzzing of the readers of untrusted files (launch/fuzz.sh): libFuzzer when built with
        // -sanitize=fuzzer -DFUZZING, a seeded mutation fuzzer otherwise.
        .executableTarget(name: "recsys-dist-fuzz", dependencies: ["Compute", "DataPipeline"]),
        .executableTarget(name: "recsys-dist", dependencies: [
            "BackendCheck", "Backends", "Benchmarks", "Checkpointing", "Compute", "Configuration", "CUDA", "DataPipeline", "Datasets", "Distributed", "Export",
            "Models", "NeuralNetwork", "Planning", "Training", "VectorSearch",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "TestSupport", dependencies: ["Compute", "Distributed", "NeuralNetwork"], path: "Tests/TestSupport"),
        .testTarget(name: "ComputeTests", dependencies: ["CIntrinsics", "Compute", "TestSupport"]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["Compute", "NeuralNetwork", "TestSupport"]),
        .testTarget(name: "DataPipelineTests", dependencies: ["Compute", "DataPipeline", "TestSupport"]),
        .testTarget(name: "DistributedTests", dependencies: ["Checkpointing", "Compute", "DataPipeline", "Distributed", "NeuralNetwork", "TestSupport"]),
        .testTarget(name: "CUDATests", dependencies: ["BackendCheck", "CUDA", "Compute", "TestSupport"]),
        .testTarget(name: "CheckpointingTests", dependencies: ["Checkpointing", "Compute", "Distributed", "NeuralNetwork", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Compute", "Configuration", "DataPipeline", "Datasets", "Distributed", "Models",
                                                         "Planning", "Training", "TestSupport", "VectorSearch"]),
        .testTarget(name: "CLITests", dependencies: ["Compute", "Configuration", "Planning", "TestSupport", "Training"]),
    ],
    cxxLanguageStandard: .cxx17
)
