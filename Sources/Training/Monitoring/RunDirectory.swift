import Checkpointing
import Foundation

/// `runs/<name>-<timestamp>/` of one training run, written by rank 0: the resolved config
/// (`config.yaml`), what ran where (`run.json`: world size, hosts, version, command, start),
/// `metrics.jsonl` (one JSON object per logging interval and per evaluation) and TensorBoard
/// event files with the same scalars.
public final class RunDirectory {
    public let path: String
    private let metrics: FileHandle
    private let events: TensorBoardEventWriter

    public static let version = "0.1.0"

    public init(root: String, name: String, configuration: String, worldSize: Int, hosts: [String]) throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        var path = "\(root)/\(name)-\(formatter.string(from: Date()))"
        var suffix = 1
        while FileManager.default.fileExists(atPath: path) {
            suffix += 1
            path = "\(root)/\(name)-\(formatter.string(from: Date()))-\(suffix)"
        }
        try FileSystem.makeDirectory(path)
        self.path = path
        try configuration.write(toFile: "\(path)/config.yaml", atomically: true, encoding: .utf8)
        let run: [String: Any] = [
            "name": name, "world_size": worldSize, "hosts": hosts, "version": Self.version,
            "command": CommandLine.arguments.joined(separator: " "),
            "started": ISO8601DateFormatter().string(from: Date()),
        ]
        try JSONSerialization.data(withJSONObject: run, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: "\(path)/run.json"))
        guard FileManager.default.createFile(atPath: "\(path)/metrics.jsonl", contents: nil),
              let metrics = FileHandle(forWritingAtPath: "\(path)/metrics.jsonl") else {
            throw DataWriteError(path: "\(path)/metrics.jsonl")
        }
        self.metrics = metrics
        events = try TensorBoardEventWriter(directory: path)
    }

    /// Appends one metrics line and the same numbers as TensorBoard scalars (`step` is the x axis).
    public func record(step: Int, _ values: [(String, Double)]) throws {
        var object: [String: Any] = ["step": step]
        for (key, value) in values { object[key] = value.isFinite ? value : NSNull() }
        var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        line.append(10)
        do {
            try metrics.write(contentsOf: line)
            try events.add(step: step, scalars: values.filter { $0.1.isFinite }.map { (tag: $0.0, value: $0.1) })
        } catch {
            // A full disk: the run folder and the reason, in one line.
            throw FileSystemError.from(error, path: path)
        }
    }
}
