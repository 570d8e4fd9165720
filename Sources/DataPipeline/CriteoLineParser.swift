import Foundation

/// One line of the raw Criteo click logs (Kaggle `train.txt`, Terabyte `day_N`): a 0/1 label,
/// 13 integer fields and 26 categorical fields of up to 8 hex digits, tab-separated; an empty
/// field is a missing value. The parser scans the bytes once.
///
/// Dense values become log(1 + max(x, 0)) (missing: 0). Categorical values are returned as their
/// 32-bit numbers (missing: -1); mapping them to table rows is the caller's (modulo the table
/// size, and rare values to a shared row).
public struct CriteoLineParser: Sendable {
    public static let denseCount = 13
    public static let categoricalCount = 26
    public static let fieldCount = 1 + denseCount + categoricalCount

    public init() {}

    /// Parses `line` into `label`, `dense` (13 floats) and `categorical` (26 values, -1 when
    /// missing); `where` names the line in errors ("path:line").
    @inline(__always)
    public func parse(_ line: UnsafeBufferPointer<UInt8>, label: inout Float, dense: UnsafeMutablePointer<Float>,
                      categorical: UnsafeMutablePointer<Int64>, where location: () -> String) throws {
        do {
            try parseFields(line, label: &label, dense: dense, categorical: categorical, where: location)
        } catch {
            // A wrong field count explains any other error on the line: report it instead.
            let fields = line.reduce(1) { $0 + ($1 == 9 ? 1 : 0) }
            if fields != Self.fieldCount {
                throw DataError("\(location()): expected \(Self.fieldCount) tab-separated fields, found \(fields)")
            }
            throw error
        }
    }

    @inline(__always)
    private func parseFields(_ line: UnsafeBufferPointer<UInt8>, label: inout Float, dense: UnsafeMutablePointer<Float>,
                             categorical: UnsafeMutablePointer<Int64>, where location: () -> String) throws {
        guard let bytes = line.baseAddress else {
            throw DataError("\(location()): expected \(Self.fieldCount) tab-separated fields, found 1")
        }
        let count = line.count
        var field = 0, start = 0
        while true {
            // The next tab, found by memchr (vectorised), or the end of the line.
            let tab = memchr(bytes + start, 9, count - start)
            let end = tab.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - bytes } ?? count
            guard field < Self.fieldCount else {
                throw DataError("\(location()): more than \(Self.fieldCount) tab-separated fields")
            }
            let value = UnsafeBufferPointer(start: bytes + start, count: end - start)
            if field == 0 {
                label = try Self.parseLabel(value, location)
            } else if field <= Self.denseCount {
                dense[field - 1] = try Self.parseCount(value, field: field, location)
            } else {
                categorical[field - 1 - Self.denseCount] = try Self.parseHex(value, field: field, location)
            }
            field += 1
            if tab == nil { break }
            start = end + 1
        }
        guard field == Self.fieldCount else {
            throw DataError("\(location()): expected \(Self.fieldCount) tab-separated fields, found \(field)")
        }
    }

    static func name(ofField field: Int) -> String {
        field == 0 ? "label" : field <= denseCount ? "I\(field)" : "C\(field - denseCount)"
    }

    static func text(_ value: UnsafeBufferPointer<UInt8>) -> String {
        let shown = String(decoding: value.prefix(24), as: UTF8.self)
        return value.count > 24 ? shown + "..." : shown
    }

    @inline(__always)
    static func parseLabel(_ value: UnsafeBufferPointer<UInt8>, _ location: () -> String) throws -> Float {
        if value.count == 1 && (value[0] == 48 || value[0] == 49) { return Float(value[0] - 48) }
        throw DataError("\(location()): label must be 0 or 1, found '\(text(value))'")
    }

    /// An integer count, possibly negative (Criteo has -1s), as log(1 + max(x, 0)).
    @inline(__always)
    static func parseCount(_ value: UnsafeBufferPointer<UInt8>, field: Int, _ location: () -> String) throws -> Float {
        if value.isEmpty { return 0 }
        var index = 0, negative = false
        if value[0] == 45 { negative = true; index = 1 }
        guard index < value.count else {
            throw DataError("\(location()): field \(field + 1) (\(name(ofField: field))): '-' is not an integer")
        }
        var number: Int64 = 0
        while index < value.count {
            let digit = Int64(value[index]) - 48
            guard digit >= 0 && digit <= 9 else {
                throw DataError("\(location()): field \(field + 1) (\(name(ofField: field))): '\(text(value))' is not an integer")
            }
            let (times10, overflow1) = number.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else {
                throw DataError("\(location()): field \(field + 1) (\(name(ofField: field))): '\(text(value))' is out of range")
            }
            number = next
            index += 1
        }
        if negative { return 0 }
        return number < Int64(smallLogs.count) ? smallLogs[Int(number)] : Float(log1p(Double(number)))
    }

    /// log(1 + x) of the small counts that make up most of Criteo's dense fields.
    static let smallLogs: [Float] = (0..<4096).map { Float(log1p(Double($0))) }

    /// Each byte's hex digit value, or -1.
    static let hexValues: [Int8] = (0..<256).map { byte in
        switch byte {
        case 48...57: return Int8(byte - 48)
        case 97...102: return Int8(byte - 87)
        case 65...70: return Int8(byte - 55)
        default: return -1
        }
    }

    /// A categorical value: 1 to 8 hex digits, a 32-bit number (-1 when the field is empty).
    @inline(__always)
    static func parseHex(_ value: UnsafeBufferPointer<UInt8>, field: Int, _ location: () -> String) throws -> Int64 {
        if value.isEmpty { return -1 }
        guard value.count <= 8 else {
            throw DataError("\(location()): field \(field + 1) (\(name(ofField: field))): '\(text(value))' is longer than 8 hex digits")
        }
        var number: Int64 = 0
        var invalid: Int8 = 0
        hexValues.withUnsafeBufferPointer { table in
            for byte in value {
                let digit = table[Int(byte)]
                invalid |= digit
                number = number << 4 | Int64(digit & 15)
            }
        }
        if invalid < 0 {
            let what = String(bytes: value, encoding: .utf8) == nil ? "invalid UTF-8" : "'\(text(value))' is not a hex id"
            throw DataError("\(location()): field \(field + 1) (\(name(ofField: field))): \(what)")
        }
        return number
    }
}
