import Foundation
import Testing
import TestSupport

/// What a job under mpirun prints (issue 10, items 11 and 12).
@Suite(.serialized) struct JobOutputTests {
    func config() throws -> String {
        let path = ScratchFolder.path("recsys-output", suffix: ".yaml")
        try (CommandLineTests.smallConfig + "\nrun:\n  record: false\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// An error every rank reaches is printed once, by rank 0, without usage text.
    @Test func anErrorEveryRankReachesIsPrintedOnce() throws {
        let output = try MPIRunner.run(ranks: 3, ["train", "--config", try config(), "--set", "training.learning_rate=0.1"], timeout: 60)
        #expect(output.status != 0)
        let everything = output.standardOutput + output.standardError
        #expect(everything.components(separatedBy: "unknown key 'training.learning_rate'").count == 2, "\(everything)")
        #expect(!everything.contains("Usage:"), "\(everything)")
    }

    /// Under mpirun the ranks get a pseudo-terminal even when the output goes to a file: no live
    /// line (escape codes) in it, plain lines only.
    @Test func redirectedOutputHoldsPlainLines() throws {
        let output = try MPIRunner.run(ranks: 2, ["train", "--config", try config()], timeout: 120)
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput.contains("step 40/40"))
        #expect(!output.standardOutput.contains("\u{1B}[") && !output.standardOutput.contains("\r"), "\(output.standardOutput.debugDescription)")
    }
}
