/// How the held-out part of the data is chosen.
public enum HeldOutSplit: Sendable, Equatable, CustomStringConvertible {
    /// The last `fraction` of the lines is held out (click logs are time-ordered).
    case position(fraction: Double)
    /// Each line is held out with probability `fraction`, by a seeded hash of its number.
    case random(fraction: Double, seed: UInt64)
    /// The held-out lines come from other files.
    case files([String])
    /// Every line is held out (scoring a file with a trained model).
    case all

    /// The index of the first held-out line of `lineCount` (position split only).
    func firstHeldOutLine(of lineCount: Int) -> Int {
        guard case .position(let fraction) = self else { return .max }
        return lineCount - Int((Double(lineCount) * fraction).rounded())
    }

    /// Whether line `index` (with its seeded `hash`) is held out.
    func holdsOut(line index: Int, firstHeldOut: Int, hash: UInt64) -> Bool {
        switch self {
        case .position: return index >= firstHeldOut
        case .random(let fraction, _): return Double(hash >> 11) * 0x1.0p-53 < fraction
        case .files: return false
        case .all: return true
        }
    }

    var seed: UInt64 {
        if case .random(_, let seed) = self { return seed }
        return 0
    }

    public var description: String {
        switch self {
        case .position(let fraction): return "position: last \(fraction) of the lines held out"
        case .random(let fraction, let seed): return "random: \(fraction) held out, seed \(seed)"
        case .files(let files): return "files: held out from \(files.joined(separator: ", "))"
        case .all: return "all lines held out"
        }
    }
}
