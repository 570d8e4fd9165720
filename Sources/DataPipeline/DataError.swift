/// A data file that cannot be used; the message names the file, the line and what is wrong.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func atLine(_ path: String, _ line: Int, _ what: String) -> DataError { DataError("\(path):\(line): \(what)") }
}
