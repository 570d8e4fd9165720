/// Categorical features computed from a value rather than hashed from it, as NVTabular's
/// `Categorify`-after-`LambdaOp` and `Bucketize` make them: the hour or weekday of a timestamp,
/// the bucket a number falls in, and an id that is a number already.
public enum DerivedFeature: Sendable, Equatable {
    /// 0...23, the hour (UTC) of a timestamp.
    case hourOfDay(TimestampFormat)
    /// 0...6, Monday to Sunday (UTC), of a timestamp.
    case dayOfWeek(TimestampFormat)
    /// 0...n for n ascending boundaries: how many of them are at or below the value.
    case buckets([Double])
    /// The value itself, a non-negative integer (ids numbered already, as MovieLens's).
    case integer

    /// How a timestamp is written.
    public enum TimestampFormat: String, Sendable, Codable, CaseIterable {
        /// Seconds since 1970-01-01 00:00 UTC.
        case unix
        /// `YYYY-MM-DD HH:MM[:SS]` (or with `T` between date and time).
        case iso8601
        /// `YYMMDDHH`, years 2000-2099 (the Avazu click logs' `hour` column).
        case yymmddhh
    }

    /// The feature's value for `text` (its row follows by `CategoricalRows`), or nil when the
    /// text is not such a value.
    func row(_ text: String) -> Int? {
        switch self {
        case .hourOfDay(let format): return Self.civilTime(text, format).map { $0.hour }
        case .dayOfWeek(let format): return Self.civilTime(text, format).map { $0.weekday }
        case .buckets(let boundaries):
            guard let value = Double(text), value.isFinite else { return nil }
            return boundaries.firstIndex { value < $0 } ?? boundaries.count
        case .integer:
            guard let value = Int(text), value >= 0 else { return nil }
            return value
        }
    }

    /// How many values the feature takes (nil: unbounded, an integer id).
    public var valueCount: Int? {
        switch self {
        case .hourOfDay: return 24
        case .dayOfWeek: return 7
        case .buckets(let boundaries): return boundaries.count + 1
        case .integer: return nil
        }
    }

    /// What a value must be, for messages.
    var expected: String {
        switch self {
        case .hourOfDay(let format), .dayOfWeek(let format): return "timestamp (\(format.rawValue))"
        case .buckets: return "number"
        case .integer: return "non-negative integer"
        }
    }

    /// The hour and weekday (Monday 0) of a timestamp.
    static func civilTime(_ text: String, _ format: TimestampFormat) -> (hour: Int, weekday: Int)? {
        switch format {
        case .unix:
            guard let seconds = Int(text) else { return nil }
            let days = Int((Double(seconds) / 86_400).rounded(.down))
            let hour = (seconds - days * 86_400) / 3600
            return (hour, weekday(daysSinceEpoch: days))
        case .iso8601:
            let bytes = Array(text.utf8)
            guard bytes.count >= 16, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 32, bytes[13] == 58,
                  let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10]),
                  let hour = number(bytes[11..<13]), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour) else {
                return nil
            }
            return (hour, weekday(daysSinceEpoch: daysFromCivil(year: year, month: month, day: day)))
        case .yymmddhh:
            let bytes = Array(text.utf8)
            guard bytes.count == 8, let year = number(bytes[0..<2]), let month = number(bytes[2..<4]), let day = number(bytes[4..<6]),
                  let hour = number(bytes[6..<8]), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour) else {
                return nil
            }
            return (hour, weekday(daysSinceEpoch: daysFromCivil(year: 2000 + year, month: month, day: day)))
        }
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - 48) }
    }

    /// 1970-01-01 was a Thursday (weekday 3, Monday being 0).
    private static func weekday(daysSinceEpoch days: Int) -> Int { ((days % 7) + 7 + 3) % 7 }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
    /// `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
