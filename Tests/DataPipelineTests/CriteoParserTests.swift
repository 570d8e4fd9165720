import DataPipeline
import Foundation
import Testing

/// The Criteo parser on hand-written lines.
@Suite struct CriteoParserTests {
    struct Parsed {
        var label: Float = 0
        var dense = [Float](repeating: .nan, count: 13)
        var categorical = [Int64](repeating: -7, count: 26)
    }

    func parse(_ line: String) throws -> Parsed { try parse(bytes: Array(line.utf8)) }

    func parse(bytes: [UInt8]) throws -> Parsed {
        var result = Parsed()
        try bytes.withUnsafeBufferPointer { line in
            try result.dense.withUnsafeMutableBufferPointer { dense in
                try result.categorical.withUnsafeMutableBufferPointer { categorical in
                    try CriteoLineParser().parse(line, label: &result.label, dense: dense.baseAddress!,
                                                 categorical: categorical.baseAddress!, where: { "f.tsv:3" })
                }
            }
        }
        return result
    }

    func line(label: String = "1", dense: [String] = Array(repeating: "1", count: 13),
              categorical: [String] = Array(repeating: "0000000a", count: 26)) -> String {
        ([label] + dense + categorical).joined(separator: "\t")
    }

    func error(_ text: String) -> String? {
        do { _ = try parse(text); return nil } catch { return "\(error)" }
    }

    @Test func parsesValuesWithTheLogTransform() throws {
        var dense = (0..<13).map { "\($0)" }
        dense[5] = "1382"
        let parsed = try parse(line(label: "0", dense: dense, categorical: ["68fd1e64"] + Array(repeating: "FFFFFFFF", count: 25)))
        #expect(parsed.label == 0)
        #expect(parsed.dense[0] == 0 && abs(parsed.dense[5] - Float(log1p(1382.0))) < 1e-6)
        #expect(parsed.categorical[0] == 0x68fd1e64 && parsed.categorical[1] == 0xFFFF_FFFF)
    }

    @Test func everyMissingFieldPattern() throws {
        // All dense missing, all categorical missing, the first and last of each, alternating.
        let patterns: [(dense: [Int], categorical: [Int])] = [
            (Array(0..<13), []), ([], Array(0..<26)), ([0], [0]), ([12], [25]), (Array(stride(from: 0, to: 13, by: 2)),
             Array(stride(from: 1, to: 26, by: 2))), (Array(0..<13), Array(0..<26)),
        ]
        for pattern in patterns {
            var dense = Array(repeating: "3", count: 13), categorical = Array(repeating: "00000010", count: 26)
            for i in pattern.dense { dense[i] = "" }
            for i in pattern.categorical { categorical[i] = "" }
            let parsed = try parse(line(dense: dense, categorical: categorical))
            for i in 0..<13 { #expect(parsed.dense[i] == (pattern.dense.contains(i) ? 0 : Float(log1p(3.0)))) }
            for i in 0..<26 { #expect(parsed.categorical[i] == (pattern.categorical.contains(i) ? -1 : 16)) }
        }
    }

    @Test func negativeIntegersClampToZero() throws {
        var dense = Array(repeating: "2", count: 13)
        dense[1] = "-1"
        dense[2] = "-300"
        let parsed = try parse(line(dense: dense))
        #expect(parsed.dense[1] == 0 && parsed.dense[2] == 0)
    }

    @Test func eachBadLineGetsItsMessage() {
        #expect(error(line() + "\textra") == "f.tsv:3: expected 40 tab-separated fields, found 41")
        #expect(error("") == "f.tsv:3: expected 40 tab-separated fields, found 1")
        #expect(error(Array(line().split(separator: "\t", omittingEmptySubsequences: false).prefix(39)).joined(separator: "\t"))
            == "f.tsv:3: expected 40 tab-separated fields, found 39")
        #expect(error(line(label: "2")) == "f.tsv:3: label must be 0 or 1, found '2'")
        var dense = Array(repeating: "1", count: 13)
        dense[3] = "12a"
        #expect(error(line(dense: dense)) == "f.tsv:3: field 5 (I4): '12a' is not an integer")
        dense[3] = "99999999999999999999"
        #expect(error(line(dense: dense)) == "f.tsv:3: field 5 (I4): '99999999999999999999' is out of range")
        var categorical = Array(repeating: "0000000a", count: 26)
        categorical[2] = "xyz12345"
        #expect(error(line(categorical: categorical)) == "f.tsv:3: field 17 (C3): 'xyz12345' is not a hex id")
        categorical[2] = "123456789"
        #expect(error(line(categorical: categorical)) == "f.tsv:3: field 17 (C3): '123456789' is longer than 8 hex digits")
    }

    @Test func invalidUTF8InACategoricalIsNamed() {
        let prefix = Array((["1"] + Array(repeating: "1", count: 13)).joined(separator: "\t").utf8) + [9]
        let rest = Array(Array(repeating: "0000000a", count: 25).joined(separator: "\t").utf8)
        let bytes = prefix + [0xC3, 0x28] + [9] + rest
        #expect(throws: DataError("f.tsv:3: field 15 (C1): invalid UTF-8")) { try parse(bytes: bytes) }
    }
}
