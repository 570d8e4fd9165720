import Dispatch

/// Where progress goes: plain lines, and on a terminal a live line redrawn in place (when `live`
/// is given, a pass shows itself there and prints only its closing line).
public struct ProgressOutput {
    public var line: (String) -> Void
    public var live: ((String) -> Void)?

    public init(line: @escaping (String) -> Void, live: ((String) -> Void)? = nil) {
        self.line = line
        self.live = live
    }

    /// Nothing shown.
    public static var silent: ProgressOutput { ProgressOutput(line: { _ in }) }
}

/// What a pass has done so far.
public struct ProgressCounts: Sendable, Equatable {
    public var bytes = 0
    public var lines = 0

    public init(bytes: Int = 0, lines: Int = 0) {
        self.bytes = bytes
        self.lines = lines
    }
}

/// Brings the counts of a pass that every rank of a job runs on its own part of the data
/// together on the rank that reports them.
public protocol ProgressSharing: AnyObject {
    /// Ranks taking part.
    var ranks: Int { get }
    /// Shares this rank's counts so far; returns the sums over every rank, as last heard, on the
    /// rank that reports (rank 0), and nil on the others.
    func share(_ counts: ProgressCounts) throws -> ProgressCounts?
    /// The end of the pass, on every rank together: the exact sums over the ranks.
    func finish(_ counts: ProgressCounts) throws -> ProgressCounts
}

/// Progress of a pass over data: done of the pass's total (bytes — compressed bytes for .gz
/// files — or lines), MB/s and the time left at that rate, as a plain line every `interval`
/// seconds or, on a terminal, a live line redrawn five times a second; and a closing line when
/// the pass ends. With `sharing`, the figures are every rank's together, shown by rank 0.
public final class ReadProgress {
    /// What a pass's total counts.
    public enum Unit { case bytes, lines }

    private let interval: Double
    private let output: ProgressOutput
    private let sharing: ProgressSharing?
    private let now: () -> Double
    private var pass = ""
    private var unit = Unit.bytes
    private var total = 0
    private var mine = ProgressCounts()
    /// Bytes counted in the current pass on this rank.
    public var bytesDone: Int { mine.bytes }
    private var started = 0.0
    private var lastShown = 0.0
    private var lastShared = 0.0

    /// - Parameters:
    ///   - now: seconds on a steady clock (tests pass their own).
    ///   - sharing: the ranks' counts brought together (totals are then those of all ranks).
    public init(interval: Double = 5, output: ProgressOutput, sharing: ProgressSharing? = nil,
                now: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.interval = interval
        self.output = output
        self.sharing = sharing
        self.now = now
    }

    /// Plain lines to `report`.
    public convenience init(interval: Double = 5, report: @escaping (String) -> Void,
                            now: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.init(interval: interval, output: ProgressOutput(line: report), now: now)
    }

    /// Starts a pass named `name` over `total` bytes or lines (of every rank, with sharing).
    public func begin(_ name: String, total: Int, unit: Unit = .bytes) {
        pass = name
        self.total = total
        self.unit = unit
        mine = ProgressCounts()
        started = now()
        lastShown = started
        lastShared = started
    }

    /// Starts a pass over `totalBytes` of files.
    public func begin(_ name: String, totalBytes: Int) { begin(name, total: totalBytes, unit: .bytes) }

    /// Counts what a reader consumed or a writer wrote; shows the figures when it is time.
    public func advance(bytes: Int, lines: Int) {
        mine.bytes += bytes
        mine.lines += lines
        let time = now()
        let showEvery = output.live == nil ? interval : 0.2
        // Other ranks post their counts to rank 0 once a second, whatever rank 0 shows.
        let shareEvery = sharing == nil ? showEvery : min(showEvery, 1)
        guard time - lastShared >= shareEvery else { return }
        lastShared = time
        // A report that cannot be sent is not worth stopping the work for; the pass's end,
        // which every rank reaches, reports failures.
        let counts: ProgressCounts?
        if let sharing { counts = try? sharing.share(mine) } else { counts = mine }
        guard let counts, time - lastShown >= showEvery else { return }
        lastShown = time
        let text = line(counts, at: time)
        if let live = output.live { live(text) } else { output.line(text) }
    }

    /// Ends the pass (on every rank together, with sharing) with its closing line.
    public func end() throws {
        let counts = try sharing?.finish(mine) ?? mine
        let elapsed = max(now() - started, 1e-9)
        output.line("\(title): \(Self.grouped(counts.bytes / 1_000_000)) MB, \(Self.grouped(counts.lines)) lines in "
                    + "\(Self.tenths(elapsed)) s, \(Self.tenths(Double(counts.bytes) / elapsed / 1e6)) MB/s")
    }

    private var title: String {
        guard let ranks = sharing?.ranks, ranks > 1 else { return pass }
        return "\(pass) (\(ranks) ranks)"
    }

    /// "pass: 812 of 1,950 MB (41.6%), 4,210,000 lines, 187.0 MB/s, 6 s left", or by lines
    /// "pass: 4,210,000 of 9,000,000 lines (46.8%), 812 MB, 187.0 MB/s, 6 s left".
    func line(_ counts: ProgressCounts, at time: Double) -> String {
        let elapsed = max(time - started, 1e-9)
        let done = unit == .bytes ? counts.bytes : counts.lines
        var text = "\(title): "
        switch unit {
        case .bytes: text += "\(Self.grouped(counts.bytes / 1_000_000)) of \(Self.grouped(total / 1_000_000)) MB"
        case .lines: text += "\(Self.grouped(counts.lines)) of \(Self.grouped(total)) lines"
        }
        if total > 0 { text += " (\(Self.tenths(100 * Double(done) / Double(total)))%)" }
        switch unit {
        case .bytes: text += ", \(Self.grouped(counts.lines)) lines"
        case .lines: text += ", \(Self.grouped(counts.bytes / 1_000_000)) MB"
        }
        text += ", \(Self.tenths(Double(counts.bytes) / elapsed / 1e6)) MB/s"
        let rate = Double(done) / elapsed
        if rate > 0 && total > done { text += ", \(Int((Double(total - done) / rate).rounded())) s left" }
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
