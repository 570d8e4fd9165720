import Foundation

/// The tests' scratch space: every path lies in one folder of this test process under the
/// system's temporary directory, removed when the process exits. A `ScratchFolder` value also
/// removes its own folder when the last reference to it goes (a suite's instance, at the end of
/// its test), so the runs' checkpoints and ONNX exports (hundreds of MB) never pile up.
public final class ScratchFolder: Sendable {
    /// The folder's path; nothing is created there until a test writes.
    public let path: String

    public init(_ prefix: String) { path = Self.path(prefix) }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A fresh path named after `prefix` (and ending in `suffix`), not yet created; removed with
    /// the process's scratch folder at exit.
    public static func path(_ prefix: String, suffix: String = "") -> String {
        root + "/\(prefix)-\(UUID().uuidString)\(suffix)"
    }

    /// The process's folder, made on first use and removed at exit.
    static let root: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-tests-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: ScratchFolder.root) }
        return path
    }()
}
