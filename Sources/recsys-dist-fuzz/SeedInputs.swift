import DataPipeline
import Foundation

/// Valid inputs for every reader, which mutations start from: Criteo TSV lines (plain, CRLF,
/// missing values), a CSV file with a header for the fuzzing schema, and a record file. Each
/// file starts with its reader's selector byte (see `ParserFuzzing`).
enum SeedInputs {
    static func write(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let criteo = (0..<6).map { (i: Int) -> String in
            let dense: [String] = (0..<13).map { $0 % 4 == i % 4 ? "" : String(i * 3 + $0) }
            let categorical: [String] = (0..<26).map { $0 % 5 == i ? "" : String(format: "%08x", i * 7919 + $0 * 104_729) }
            return ([String(i % 2)] + dense + categorical).joined(separator: "\t")
        }
        try save([0] + Array(criteo.joined(separator: "\n").utf8) + [10], folder, "tsv")
        try save([0] + Array(criteo.joined(separator: "\r\n").utf8), folder, "tsv-crlf")
        let csv = "rating,count,user,a,b,c\n5,3,u1,1,0,1\n2,0,u2,0,0,0\n4,-1,,1,1,1\n3,17,u1,0,1,0\n"
        try save([1] + Array(csv.utf8), folder, "csv")
        let records = NSTemporaryDirectory() + "/recsys-fuzz-seed-\(getpid()).rsd"
        let writer = try RecordWriter(path: records, denseCount: 2, bagSizes: [1, 3], tableRows: [10, 4])
        for i in 0..<5 {
            try writer.append(label: Float(i % 2), dense: [Float(i), 0.5], ids: [Int32(i), 1, i % 2 == 0 ? 3 : -1, -1])
        }
        try writer.finish()
        defer { try? FileManager.default.removeItem(atPath: records) }
        try save([2] + [UInt8](try Data(contentsOf: URL(fileURLWithPath: records))), folder, "rsd")
    }

    private static func save(_ bytes: [UInt8], _ folder: String, _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/seed-\(name)"))
    }
}
