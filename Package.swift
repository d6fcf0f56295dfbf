// swift-tools-version: 6.0
// Pangu for Swift: a native inference engine for Huawei's open Pangu language models.
import PackageDescription

// Hot kernels need the vector ISA enabled at compile time: without it SIMD FMAs and f16 conversions become
// library calls (13x slower, see Docs/Performance.md). x86-64-v3 = AVX2 + FMA + F16C; arm64 has NEON baseline.
#if arch(x86_64)
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=x86-64-v3", "-enforce-exclusivity=unchecked"]),
    // Drops the overflow traps on pointer arithmetic in hot loops (release only; debug keeps every check).
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]
#else
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]
#endif

let package = Package(
    name: "Pangu",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PanguEngine", targets: ["PanguEngine"]),
        .library(name: "PanguTokenizer", targets: ["PanguTokenizer"]),
        .executable(name: "pangu", targets: ["pangu"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The server's HTTP stack, logging, metrics and signal handling (PanguServer only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Software prefetch for the decode kernels (Swift has no prefetch intrinsic): one inline C function.
        .target(name: "CPrefetch"),
        // Layer 0: tensors, dtypes, thread pool and kernels (reference + optimised).
        .target(name: "PanguTensor", dependencies: ["CPrefetch"], swiftSettings: fastMath),
        // Layer 1: weight files (safetensors, GGUF), memory-mapped, validated.
        .target(name: "PanguWeights", dependencies: ["PanguTensor"], swiftSettings: fastMath),
        // Independent: SentencePiece tokenizer + Hugging Face conventions + streaming detokenizer.
        .target(name: "PanguTokenizer", resources: [.copy("Resources")]),
        // Independent: Jinja chat templates, thinking modes, reasoning splitter.
        .target(name: "PanguChat"),
        // Layer 2: model architectures (one file each), shared blocks, registry.
        .target(name: "PanguModels", dependencies: ["PanguTensor", "PanguWeights"], swiftSettings: fastMath),
        // Layer 3: KV cache, sampler, token generation (token ids only).
        .target(name: "PanguRuntime", dependencies: ["PanguModels", "PanguWeights"], swiftSettings: fastMath),
        // Constrained decoding: JSON / JSON Schema / tool-call grammars as LogitsConstraint over a vocabulary.
        .target(name: "PanguGrammar", dependencies: ["PanguChat", "PanguRuntime", "PanguTokenizer"], swiftSettings: fastMath),
        // Open MPI through pkg-config `ompi` (Debian: libopenmpi-dev; the mpirun launcher is in openmpi-bin).
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev", "openmpi-bin"]), .brew(["open-mpi"])]),
        // Independent: MPI communicator wrapper and the expert-parallel split plan (Docs/ExpertParallel.md).
        .target(name: "PanguDistributed", dependencies: ["CMPI"]),
        // Expert-parallel execution: shard planner, rank 0's distributed model, the followers' loop.
        .target(name: "PanguParallel", dependencies: ["PanguModels", "PanguDistributed"], swiftSettings: fastMath),
        // Checks the communicator's collectives against closed-form results; the MPI tests run it under mpirun.
        .executableTarget(name: "mpi-selftest", dependencies: ["PanguDistributed"]),
        // Layer 4: façade that loads a checkpoint directory into model + tokenizer + chat conventions.
        .target(name: "PanguEngine", dependencies: ["PanguRuntime", "PanguTokenizer", "PanguChat"]),
        // Layer 5: the OpenAI-compatible HTTP server (the only target that imports Hummingbird/NIO).
        .target(name: "PanguServer", dependencies: [
            "PanguEngine", "PanguGrammar",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(
            name: "pangu",
            dependencies: ["PanguEngine", "PanguServer", "PanguParallel",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath),
        .executableTarget(name: "tokenizer-bench", dependencies: ["PanguTokenizer"], swiftSettings: fastMath),
        // Single-thread GB/s of the quantised matvec/GEMM kernels per weight format.
        .executableTarget(name: "quant-bench", dependencies: ["PanguTensor", "PanguWeights"], swiftSettings: fastMath),
        // Fixture builders and golden-file helpers for the test targets.
        .target(name: "PanguTestSupport", dependencies: ["PanguEngine"]),
        .testTarget(name: "PanguTensorTests", dependencies: ["PanguTensor", "PanguTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PanguWeightsTests", dependencies: ["PanguWeights", "PanguTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PanguTokenizerTests", dependencies: ["PanguTokenizer"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PanguChatTests", dependencies: ["PanguChat"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PanguModelsTests", dependencies: ["PanguModels", "PanguRuntime", "PanguTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PanguCLITests", dependencies: ["pangu", "PanguTestSupport", "PanguWeights"]),
        .testTarget(name: "PanguParallelTests", dependencies: ["PanguParallel", "PanguModels", "PanguDistributed", "PanguWeights", "PanguEngine", "PanguRuntime", "PanguTensor", "PanguTestSupport"]),
        .testTarget(name: "PanguServerTests", dependencies: [
            "PanguServer", "PanguTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "PanguGrammarTests", dependencies: ["PanguGrammar", "PanguChat", "PanguTokenizer"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PanguDistributedTests", dependencies: ["PanguDistributed", "mpi-selftest", "PanguTestSupport"]),
        .testTarget(name: "PanguRuntimeTests", dependencies: ["PanguRuntime", "PanguEngine", "PanguTensor", "PanguTestSupport"]),
    ]
)

// libFuzzer harnesses, one executable per parser (scripts/fuzz.sh builds them with -sanitize=fuzzer,address and
// -DPANGU_FUZZ; a plain build gives small programs that replay input files through the same code).
// See Docs/Fuzzing.md.
let fuzzHarnesses: [(name: String, dependencies: [Target.Dependency])] = [
    ("gguf", ["PanguEngine"]),
    ("safetensors", ["PanguWeights"]),
    ("safetensors-index", ["PanguWeights"]),
    ("sp-model", ["PanguTokenizer"]),
    ("sp-text", ["PanguTokenizer"]),
    ("tokenizer-config", ["PanguTokenizer", "PanguChat"]),
    ("model-config", ["PanguModels"]),
    ("generation-config", ["PanguRuntime"]),
    ("jinja", ["PanguChat"]),
    ("chat-output", ["PanguChat"]),
    ("server-request", ["PanguServer"]),
]
package.targets.append(.target(name: "PanguFuzzSupport", path: "Sources/Fuzz/Support"))
for h in fuzzHarnesses {
    package.targets.append(.executableTarget(name: "fuzz-\(h.name)", dependencies: h.dependencies + ["PanguFuzzSupport"],
                                             path: "Sources/Fuzz/\(h.name)"))
}
