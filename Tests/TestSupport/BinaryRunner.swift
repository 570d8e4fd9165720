import Foundation

/// Runs the built `recsys-dist` binary, as a user would, and captures what it prints.
public enum BinaryRunner {
    public struct Output: Sendable {
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    /// The binary next to the test runner (`.build/<triple>/<config>/`), or `$RECSYS_DIST_BIN`.
    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["RECSYS_DIST_BIN"] { return path }
        let runner = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: runner).deletingLastPathComponent()
        // On Linux the runner is `<config>/<package>PackageTests.xctest`, a file in the build folder.
        if folder.lastPathComponent.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
        return folder.appendingPathComponent("recsys-dist").path
    }

    /// The working folder of the binaries the tests run.
    public static let scratchFolder: URL = {
        let url = URL(fileURLWithPath: ScratchFolder.path("recsys-cli"))
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Runs the binary with `arguments`; kills it after `timeout` seconds.
    public static func run(_ arguments: [String], timeout: TimeInterval = 300, environment: [String: String] = [:],
                           workingDirectory: String? = nil) throws -> Output {
        try run(executable: binaryPath, arguments, timeout: timeout, environment: environment, workingDirectory: workingDirectory)
    }

    /// Runs `executable` with `arguments`; kills it after `timeout` seconds. `started` sees the
    /// process once it runs (to signal it from a test).
    public static func run(executable: String, _ arguments: [String], timeout: TimeInterval = 300,
                           environment: [String: String] = [:], workingDirectory: String? = nil,
                           started: ((Process) -> Void)? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // Run in a fresh folder, so relative outputs (runs/, checkpoints/) land outside the package.
        process.currentDirectoryURL = workingDirectory.map { URL(fileURLWithPath: $0) } ?? scratchFolder
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.arguments = arguments
        let out = Pipe()
        // stderr goes to a file, stdout through a pipe read to the end before waiting, so the
        // child never blocks on a full pipe.
        let errorPath = URL(fileURLWithPath: ScratchFolder.path("recsys-stderr"))
        _ = FileManager.default.createFile(atPath: errorPath.path, contents: nil)
        let errorFile = try FileHandle(forWritingTo: errorPath)
        defer { try? FileManager.default.removeItem(at: errorPath) }
        process.standardOutput = out
        process.standardError = errorFile
        try process.run()
        started?(process)
        // SIGKILL, not terminate()'s SIGTERM: Foundation starts children with SIGTERM blocked, so a
        // child that never unblocks it (one stuck opening a FIFO, say) would outlive its timeout.
        let deadline = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.cancel()
        try errorFile.close()
        let errorData = FileManager.default.contents(atPath: errorPath.path) ?? Data()
        return Output(status: process.terminationStatus,
                      standardOutput: String(decoding: outputData, as: UTF8.self),
                      standardError: String(decoding: errorData, as: UTF8.self))
    }
}
