import Foundation
import Testing
import TestSupport

/// Wide&Deep on MovieLens 100K (../shared/data; skipped with a message when absent), with and
/// without the user and item metadata.
@Suite(.serialized) struct MovieLensTests {
    static let root = TestPaths.packageRoot
    static var dataIsPresent: Bool { FileManager.default.fileExists(atPath: TestPaths.sharedData + "/movielens_100k/u.data") }

    func auc(_ config: String) throws -> Double {
        let data = TestPaths.sharedData + "/movielens_100k"
        var arguments = ["train", "--config", "\(Self.root)/configs/\(config).yaml", "--format", "json",
                         "--set", "data.path=\(data)/splits/u1.base.gz", "--set", "data.eval_path=\(data)/splits/u1.test.gz"]
        if config == "wide-deep-movielens" {
            arguments += ["--set", "data.delimited.joins=[{name: users, path: \(data)/u.user, delimiter: '|', key_column: 0, on_column: 0}, "
                          + "{name: items, path: \(data)/u.item, delimiter: '|', key_column: 0, on_column: 1}]"]
        }
        let output = try BinaryRunner.run(arguments)
        try #require(output.status == 0, "\(output.standardError)")
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(json["auc"] as? Double)
    }

    @Test(.enabled(if: dataIsPresent, "../shared/data/movielens_100k is absent: skipped"))
    func metadataHelps() throws {
        let withMetadata = try auc("wide-deep-movielens"), idsOnly = try auc("wide-deep-movielens-ids")
        #expect(idsOnly > 0.77, "ids only: AUC \(idsOnly)")
        #expect(withMetadata > idsOnly, "with metadata \(withMetadata) vs ids only \(idsOnly)")
    }
}
