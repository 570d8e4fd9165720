import Foundation

/// Runs libFuzzer's driver when built with `-sanitize=fuzzer -DFUZZING` (`launch/fuzz.sh`),
/// the seeded mutation fuzzer otherwise.
@main
struct FuzzEntry {
    static func main() throws {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
        #else
        try SeededMutationFuzzer.run()
        #endif
    }
}

#if FUZZING
/// libFuzzer's driver, given our entry point (the package names the program's `main`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// One input for libFuzzer (under its usual name too, which its own `main` looks for).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ParserFuzzing.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
/// Without libFuzzer: a seeded mutation fuzzer over the same readers. It starts from the seed
/// inputs in a folder, mutates them (bit flips, byte changes, insertions, deletions,
/// truncations, splices of lines), and runs each for a fixed number of seconds; the report
/// says how many inputs it tried.
///
///     recsys-dist-fuzz <seed folder> [seconds] [random seed]
///     recsys-dist-fuzz --write-seeds <folder>
enum SeededMutationFuzzer {
    static func run() throws {
        let arguments = CommandLine.arguments
        if arguments.count == 3 && arguments[1] == "--write-seeds" {
            try SeedInputs.write(to: arguments[2])
            return
        }
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: recsys-dist-fuzz <seed folder> [seconds] [random seed] | --write-seeds <folder>\n".utf8))
            exit(2)
        }
        let folder = arguments[1]
        let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 60 : 60
        var random = SplitMix(seed: arguments.count > 3 ? UInt64(arguments[3]) ?? 1 : 1)
        let seeds = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            .compactMap { FileManager.default.contents(atPath: "\(folder)/\($0)").map { [UInt8]($0) } }
        guard !seeds.isEmpty else { throw CocoaError(.fileReadNoSuchFile) }
        let deadline = Date().addingTimeInterval(seconds)
        var tried = 0
        while Date() < deadline {
            var input = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0...(random.next() % 8) { mutate(&input, &random) }
            input.withUnsafeBytes { ParserFuzzing.run($0) }
            tried += 1
        }
        print("seeded mutation fuzzing: \(tried) inputs from \(seeds.count) seeds in \(Int(seconds)) s, no crash")
    }

    /// One random change, keeping the first byte (the reader selector) most of the time.
    static func mutate(_ input: inout [UInt8], _ random: inout SplitMix) {
        let position = input.count > 1 ? 1 + Int(random.next() % UInt64(input.count - 1)) : 0
        switch random.next() % 7 {
        case 0 where !input.isEmpty: input[position] ^= UInt8(1 << (random.next() % 8))
        case 1 where !input.isEmpty: input[position] = UInt8(truncatingIfNeeded: random.next())
        case 2: input.insert(contentsOf: [9, 10, 44, 48, 255, 13][Int(random.next() % 6)...].prefix(1 + Int(random.next() % 3)),
                             at: min(position, input.count))
        case 3 where input.count > 1: input.removeSubrange(position..<min(input.count, position + 1 + Int(random.next() % 16)))
        case 4 where input.count > 1: input.removeLast(Int(random.next() % UInt64(input.count / 2 + 1)))
        case 5 where input.count > 8:
            // Overwrite four bytes with an extreme integer (header fields of record files).
            let values: [UInt32] = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, 64]
            let value = values[Int(random.next() % UInt64(values.count))]
            let at = min(position, input.count - 4)
            withUnsafeBytes(of: value.littleEndian) { input.replaceSubrange(at..<(at + 4), with: $0) }
        default:
            // Duplicate a stretch (repeats lines and fields).
            guard input.count > 2 else { return }
            let length = 1 + Int(random.next() % UInt64(min(64, input.count - 1)))
            let start = 1 + Int(random.next() % UInt64(input.count - length))
            input.insert(contentsOf: input[start..<min(input.count, start + length)], at: position)
        }
    }
}

/// SplitMix64: a small seeded generator, so a run can be repeated.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
#endif
