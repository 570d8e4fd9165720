import Foundation

/// Memory the system can give this process now.
enum MemoryInformation {
    /// `MemAvailable` of /proc/meminfo (Linux), in bytes; nil where there is none.
    static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }
}
