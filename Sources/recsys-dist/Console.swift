import Foundation

/// Where a command's lines go: progress on stdout (stderr in JSON mode, so stdout ends with the
/// JSON object), errors on stderr; only rank 0 prints progress and results.
struct Console {
    let format: OutputFormat
    let isRoot: Bool

    func progress(_ line: String) {
        guard isRoot else { return }
        write(line + "\n", to: format == .json ? FileHandle.standardError : FileHandle.standardOutput)
    }

    func error(_ line: String) {
        write("error: " + line + "\n", to: FileHandle.standardError)
    }

    /// The final result: text lines, or one JSON object as the last line of stdout.
    func result(text: String, json: [String: Any]) {
        guard isRoot else { return }
        switch format {
        case .text:
            write(text + "\n", to: FileHandle.standardOutput)
        case .json:
            let cleaned = json.mapValues { value -> Any in
                if let double = value as? Double, !double.isFinite { return NSNull() }
                if let doubles = value as? [Double] { return doubles.map { $0.isFinite ? $0 as Any : NSNull() } }
                return value
            }
            let data = (try? JSONSerialization.data(withJSONObject: cleaned, options: [.sortedKeys])) ?? Data("{}".utf8)
            write(String(decoding: data, as: UTF8.self) + "\n", to: FileHandle.standardOutput)
        }
    }

    private func write(_ text: String, to handle: FileHandle) {
        handle.write(Data(text.utf8))
    }
}

/// A JSON value for an optional number: the number, or null.
func jsonValue(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
