import Compute

/// How the held-out part of the data is chosen.
public enum HeldOutSplit: Sendable, Equatable, CustomStringConvertible {
    /// How many lines are held out: a fraction of them, round(fraction x lines) with halves
    /// rounded up, or a count (all lines when there are fewer).
    public enum Amount: Sendable, Equatable, CustomStringConvertible {
        case fraction(Double)
        case count(Int)

        func lines(of lineCount: Int) -> Int {
            switch self {
            case .fraction(let fraction): return Int((Double(lineCount) * fraction).rounded())
            case .count(let count): return min(count, lineCount)
            }
        }

        public var description: String {
            switch self {
            case .fraction(let fraction): return "\(fraction) of the lines"
            case .count(let count): return "\(count) lines"
            }
        }
    }

    /// The last lines are held out (click logs are time-ordered).
    case position(Amount)
    /// Exactly that many lines, chosen at random by a seeded selection.
    case random(Amount, seed: UInt64)
    /// The held-out lines come from other files.
    case files([String])
    /// Every line is held out (scoring a file with a trained model).
    case all
    /// Each user's last line (the schema's `userColumn`; in `order_by` order, else file order)
    /// is held out: leave-last-out. Delimited files only.
    case lastPerUser

    public static func position(fraction: Double) -> HeldOutSplit { .position(.fraction(fraction)) }
    public static func random(fraction: Double, seed: UInt64) -> HeldOutSplit { .random(.fraction(fraction), seed: seed) }

    /// Whether the split needs the number of lines before it can decide (a counting pass).
    public var needsLineCount: Bool {
        switch self {
        case .position, .random: return true
        case .files, .all, .lastPerUser: return false
        }
    }

    /// Which of `lineCount` lines (by position in the files as written, bad lines included)
    /// are held out.
    public func selection(lineCount: Int) -> HeldOutSelection {
        switch self {
        case .position(let amount):
            return HeldOutSelection(rule: .from(lineCount - amount.lines(of: lineCount)))
        case .random(let amount, let seed):
            // Selection sampling (Knuth's algorithm S): line i is taken with probability
            // (still wanted) / (still to see), which takes exactly `wanted` lines.
            let wanted = amount.lines(of: lineCount)
            var bits = [UInt64](repeating: 0, count: (lineCount + 63) / 64)
            var generator = SeededGenerator(seed: seed, stream: 7)
            var taken = 0
            for line in 0..<lineCount where taken < wanted {
                if generator.nextUniform() * Double(lineCount - line) < Double(wanted - taken) {
                    bits[line >> 6] |= 1 << UInt64(line & 63)
                    taken += 1
                }
            }
            return HeldOutSelection(rule: .lines(bits))
        case .files, .lastPerUser: return HeldOutSelection(rule: .none)
        case .all: return HeldOutSelection(rule: .every)
        }
    }

    public var description: String {
        switch self {
        case .position(let amount): return "position: last \(amount) held out"
        case .random(let amount, let seed): return "random: exactly \(amount) held out, seed \(seed)"
        case .files(let files): return "files: held out from \(files.joined(separator: ", "))"
        case .all: return "all lines held out"
        case .lastPerUser: return "last_per_user: each user's last line held out"
        }
    }
}

/// The held-out lines of a split, by position among all lines of the main files.
public struct HeldOutSelection: Sendable {
    enum Rule {
        case from(Int)
        case lines([UInt64])
        case none
        case every
    }
    let rule: Rule

    public func holdsOut(line index: Int) -> Bool {
        switch rule {
        case .from(let first): return index >= first
        case .lines(let bits): return index >> 6 < bits.count && bits[index >> 6] & (1 << UInt64(index & 63)) != 0
        case .none: return false
        case .every: return true
        }
    }
}
