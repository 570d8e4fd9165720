import Dispatch

/// Progress of a pass over data files, as a line every `interval` seconds: bytes done of the
/// pass's total (compressed bytes for .gz files), lines, MB/s and the time left at that rate.
public final class ReadProgress {
    private let interval: Double
    private let report: (String) -> Void
    private let now: () -> Double
    private var pass = ""
    private var totalBytes = 0
    private var bytes = 0
    /// Bytes counted in the current pass.
    public var bytesDone: Int { bytes }
    private var lines = 0
    private var started = 0.0
    private var lastReport = 0.0

    /// - Parameter now: seconds on a steady clock (tests pass their own).
    public init(interval: Double = 5, report: @escaping (String) -> Void,
                now: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.interval = interval
        self.report = report
        self.now = now
    }

    /// Starts a pass named `name` over `totalBytes` of files.
    public func begin(_ name: String, totalBytes: Int) {
        pass = name
        self.totalBytes = totalBytes
        bytes = 0
        lines = 0
        started = now()
        lastReport = started
    }

    /// Counts what a reader consumed; reports when `interval` has passed since the last line.
    public func advance(bytes: Int, lines: Int) {
        self.bytes += bytes
        self.lines += lines
        let time = now()
        guard time - lastReport >= interval else { return }
        lastReport = time
        report(line(at: time))
    }

    /// "pass: 812 of 1,950 MB (41.6%), 4,210,000 lines, 187.0 MB/s, 6 s left".
    func line(at time: Double) -> String {
        let elapsed = max(time - started, 1e-9), rate = Double(bytes) / elapsed
        var text = "\(pass): \(Self.grouped(bytes / 1_000_000)) of \(Self.grouped(totalBytes / 1_000_000)) MB"
        if totalBytes > 0 { text += " (\(Self.tenths(100 * Double(bytes) / Double(totalBytes)))%)" }
        text += ", \(Self.grouped(lines)) lines, \(Self.tenths(rate / 1e6)) MB/s"
        if rate > 0 && totalBytes > bytes { text += ", \(Int((Double(totalBytes - bytes) / rate).rounded())) s left" }
        return text
    }

    /// 4210000 -> "4,210,000".
    static func grouped(_ value: Int) -> String {
        var digits = String(value.magnitude), result = ""
        while digits.count > 3 {
            result = "," + digits.suffix(3) + result
            digits.removeLast(3)
        }
        return (value < 0 ? "-" : "") + digits + result
    }

    /// One decimal: 41.62 -> "41.6".
    static func tenths(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(abs(scaled % 10))"
    }
}
