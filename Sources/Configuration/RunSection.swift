/// The run's name and its record: `<directory>/<name>-<timestamp>/` with the resolved config,
/// metrics.jsonl and TensorBoard event files.
public struct RunSection: Codable, Sendable, Equatable {
    /// Defaults to the config file's name without its extension.
    public var name: String?
    public var directory = "runs"
    /// Write the run directory (rank 0).
    public var record = true

    enum CodingKeys: String, CodingKey, CaseIterable { case name, directory, record }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? "runs"
        record = try c.decodeIfPresent(Bool.self, forKey: .record) ?? true
    }
}
