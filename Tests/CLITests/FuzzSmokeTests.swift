import Foundation
import Testing
import TestSupport

/// The readers of untrusted files survive a short run of the seeded mutation fuzzer
/// (`launch/fuzz.sh` runs it, or libFuzzer, for longer).
@Suite struct FuzzSmokeTests {
    @Test func seededMutationFuzzingFindsNoCrash() throws {
        let fuzzer = URL(fileURLWithPath: BinaryRunner.binaryPath).deletingLastPathComponent().appendingPathComponent("recsys-dist-fuzz").path
        let seeds = ScratchFolder.path("recsys-fuzz-seeds")
        let written = try BinaryRunner.run(executable: fuzzer, ["--write-seeds", seeds])
        try #require(written.status == 0, "\(written.standardError)")
        let output = try BinaryRunner.run(executable: fuzzer, [seeds, "5", "7"], timeout: 120)
        #expect(output.status == 0, "\(output.standardError.suffix(2000))")
        #expect(output.standardOutput.contains("no crash"), "\(output.standardOutput)")
    }
}
