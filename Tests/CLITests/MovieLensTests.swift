import Foundation
import Testing
import TestSupport

/// Wide&Deep on MovieLens 100K (../shared/data; skipped with a message when absent), with and
/// without the user and item metadata.
@Suite(.serialized) struct MovieLensTests {
    static let root = TestPaths.packageRoot
    static var dataIsPresent: Bool { FileManager.default.fileExists(atPath: TestPaths.sharedData + "/movielens_100k/u.data") }

    func auc(_ config: String) throws -> Double {
        try #require(try result(config)["auc"] as? Double)
    }

    /// The JSON line of a training run of `config` on the shared data.
    func result(_ config: String) throws -> [String: Any] {
        let data = TestPaths.sharedData + "/movielens_100k"
        var arguments = ["train", "--config", "\(Self.root)/configs/\(config).yaml", "--format", "json",
                         "--set", "data.path=\(data)/splits/u1.base.gz", "--set", "data.eval_path=\(data)/splits/u1.test.gz"]
        if config.hasPrefix("wide-deep-movielens") && config != "wide-deep-movielens-ids" {
            arguments += ["--set", "data.delimited.joins=[{name: users, path: \(data)/u.user, delimiter: '|', key_column: 0, on_column: 0}, "
                          + "{name: items, path: \(data)/u.item, delimiter: '|', key_column: 0, on_column: 1}]"]
        }
        let output = try BinaryRunner.run(arguments)
        try #require(output.status == 0, "\(output.standardError)")
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test(.enabled(if: dataIsPresent, "../shared/data/movielens_100k is absent: skipped"))
    func metadataHelps() throws {
        let withMetadata = try auc("wide-deep-movielens"), idsOnly = try auc("wide-deep-movielens-ids")
        #expect(idsOnly > 0.77, "ids only: AUC \(idsOnly)")
        #expect(withMetadata > idsOnly, "with metadata \(withMetadata) vs ids only \(idsOnly)")
    }

    /// Two labels of one rating column: like (4 or 5) and love (5), one output each.
    @Test(.enabled(if: dataIsPresent, "../shared/data/movielens_100k is absent: skipped"))
    func likeAndLoveAreLearnedAsTwoTasks() throws {
        let tasks = try #require(try result("wide-deep-movielens-like-love")["tasks"] as? [String: [String: Double]])
        #expect(Set(tasks.keys) == ["like", "love"])
        for (task, metrics) in tasks {
            #expect((metrics["auc"] ?? 0) > 0.77, "\(task): \(metrics)")
            #expect(abs((metrics["calibration"] ?? 0) - 1) < 0.1, "\(task): \(metrics)")
        }
    }
}
